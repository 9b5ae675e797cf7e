"""vmcore."""
