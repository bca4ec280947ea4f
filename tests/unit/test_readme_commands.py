"""A test per README promise: every `glue ...`/`make ...` command shown in the README has a test.

Extracts shell commands from fenced code blocks of README.md and handoff/README.md, keys them as
`glue <command>` / `make <target>`, and checks each key against the registry in tests/readme_commands.py,
whose test ids must exist.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.readme_commands import COVERED, README_SOURCES

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def shell_commands(markdown: str) -> list[str]:
    """Commands in fenced blocks that start with `glue ` or `make ` (after a `$ ` prompt, `&&`, `;`)."""
    found = []
    for block in FENCE.findall(markdown):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split(" #", 1)[0].strip().removeprefix("$ ").strip()
            for part in re.split(r"&&|;|\|\|", line):
                part = part.strip()
                if part.startswith(("glue ", "make ")) or part in ("make",):
                    found.append(part)
    return found


def command_key(command: str) -> str:
    """`glue --config x.yaml demo --minutes 5` -> `glue demo`; `make demo DEMO_ARGS=..` -> `make demo`."""
    words = command.split()
    if words[0] == "make":
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        return f"make {targets[0]}" if targets else "make"
    rest, i = words[1:], 0
    while i < len(rest) and rest[i].startswith("-"):
        i += 1 if "=" in rest[i] or rest[i] in ("-h", "--help", "--version") else 2
    return f"glue {rest[i]}" if i < len(rest) else "glue"


def test_extraction_understands_prompts_chains_and_options():
    md = "```bash\n$ make demo   # first\nglue --config a.yaml handoff && glue score --model m\n```\n"
    assert [command_key(c) for c in shell_commands(md)] == ["make demo", "glue handoff", "glue score"]


def _readme_commands() -> list[tuple[str, str]]:
    out = []
    for rel in README_SOURCES:
        path = REPO / rel
        if path.is_file():
            out += [(rel, c) for c in shell_commands(path.read_text())]
    return out


@pytest.mark.parametrize(("source", "command"), _readme_commands())
def test_every_readme_command_has_a_test(source, command):
    key = command_key(command)
    if key in ("glue", "make"):
        return  # `glue --help`, `glue --version`: covered by test_cli_help
    assert key in COVERED, f"{source} shows `{command}` but no test covers `{key}` (add it to tests/readme_commands.py)"


@pytest.mark.parametrize("test_id", sorted({t for ids in COVERED.values() for t in ids}))
def test_registry_points_at_real_tests(test_id):
    path, _, name = test_id.partition("::")
    file = REPO / path
    assert file.is_file(), f"{path} does not exist"
    if name:
        tree = ast.parse(file.read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name.split("[")[0] in names, f"{test_id}: no such test function"


def test_make_targets_resolve():
    """`make -n` (dry run) knows every target the README names."""
    for target in sorted({k.split()[1] for k in COVERED if k.startswith("make ")}):
        result = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"make -n {target}: {result.stderr}"
