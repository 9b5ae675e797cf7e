"""Everything a person or a program talks to: the CLI and its commands, and their presenters."""
