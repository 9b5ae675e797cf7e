"""``vmcore run --gdb HOST:PORT``: a GDB remote serial protocol server for one guest."""
