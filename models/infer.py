"""Scoring job script: `python models/infer.py --features data/processed/features_test.parquet`.

The same command as `glue infer` (all options identical); kept as a script because the assignment names it.
"""

from __future__ import annotations

import sys

from glue.cli import main

if __name__ == "__main__":
    main(["infer", *sys.argv[1:]])
