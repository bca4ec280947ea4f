"""The real Coinbase captures under ../shared/data/coinbase, read in place (never copied into the repo).

`CAPTURE_SETS` is empty on a clone without ../shared; tests over the captures skip then, with one reason line.
"""

from __future__ import annotations

from pathlib import Path

# glue/testing/captures.py -> the repository -> its parent, which holds shared/ beside the worktrees
SHARED_CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "coinbase"
CAPTURE_SETS = sorted(p.name for p in SHARED_CAPTURES.iterdir() if p.is_dir()) if SHARED_CAPTURES.is_dir() else []
