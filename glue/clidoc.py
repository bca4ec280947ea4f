"""The CLI reference page (docs/cli.md), generated from every command's `--help`.

`python -m glue.clidoc docs/cli.md` writes it; a test checks that the committed page equals a fresh
render, so the reference never drifts from the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

HEADER = """# CLI reference

Generated from `glue --help` and `glue <command> --help` by `python -m glue.clidoc docs/cli.md`;
do not edit by hand (a test compares this page with a fresh render).
"""


def _help(args: list[str]) -> str:
    from glue.cli import cli

    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=110, prog_name="glue")
    if result.exit_code != 0:
        raise RuntimeError(f"glue {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip()


def render() -> str:
    """The whole page: the group's help, then one section per command in name order."""
    from glue.cli import COMMANDS

    parts = [HEADER, "## glue\n", "```text", _help([]), "```\n"]
    for name in sorted(COMMANDS):
        parts += [f"## glue {name}\n", "```text", _help([name]), "```\n"]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m glue.clidoc docs/cli.md", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
