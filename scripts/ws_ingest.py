#!/usr/bin/env python
"""The course's `scripts/ws_ingest.py --pair BTC-USD --minutes 15`.

It is `glue ingest` with the same options (see `glue ingest --help` and docs/readme/ingest.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from glue.cli import main

if __name__ == "__main__":
    main(["ingest", *sys.argv[1:]])
