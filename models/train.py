"""Training job script: `python models/train.py --features data/processed/features.parquet`.

The same command as `glue train` (all options identical); kept as a script because the assignment names it.
"""

from __future__ import annotations

import sys

from glue.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
