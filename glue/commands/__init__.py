"""Thin click commands, one module each; see `glue.cli.COMMANDS`."""
