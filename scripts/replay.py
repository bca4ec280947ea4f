#!/usr/bin/env python
"""The course's `scripts/replay.py --raw data/raw/*.ndjson --out data/processed/features.parquet`.

It is `glue replay` with the same options (see `glue replay --help` and docs/readme/warehouse.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from glue.cli import main

if __name__ == "__main__":
    main(["replay", *sys.argv[1:]])
