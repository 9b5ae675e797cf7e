import sys

try:
    from vmcore.entrypoints.cli import main
except KeyboardInterrupt:  # Ctrl-C before the CLI's own handling is in place
    sys.stderr.write("vmcore: error: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
