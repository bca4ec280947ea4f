"""Every CLI command has --help with an example (the design's promise), and `glue --help` is instant."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from glue.cli import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert re.search(r"^\s*Examples?:\s*$", text, re.M), f"glue {name} --help has no Example block"
    example = text[re.search(r"^\s*Examples?:\s*$", text, re.M).end():]
    assert re.search(rf"^\s+(glue {name}\b|make \w+ .*glue {name}\b)", example, re.M), (
        f"the example of glue {name} does not show the command itself"
    )


def test_glue_help_lists_every_command_and_is_fast():
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "glue", "--help"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 0
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.M), name
    # No timing assertion (tests never time things); heavy imports would show up as seconds here.
    print(f"glue --help took {took:.2f}s")
