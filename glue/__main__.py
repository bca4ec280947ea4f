"""`python -m glue` runs the CLI."""

from glue.cli import main

main()
