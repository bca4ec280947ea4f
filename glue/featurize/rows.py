"""Rows out: final feature rows as `ticks.features` messages (contracts section 5), minus rows published before."""

from __future__ import annotations

import json
import math
from typing import Any

from glue.records import format_rfc3339_ns


def _json_value(v: Any) -> Any:
    # NaN/inf are not JSON; a non-finite feature is published as null.
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _json_default(v: Any) -> Any:
    # Exact decimals (should a SQL version emit one) travel as their text, never rounded to a float.
    return str(v)


def feature_messages(table: Any, emitted_at_ns: int) -> list[tuple[bytes, bytes]]:
    """(key, value) per row: key = product id, value = the row as JSON (contracts section 5).

    Timestamps become RFC 3339 `Z` strings; floats keep their shortest round-trip repr, so the
    JSON carries the exact bits of the DuckDB value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, list[Any]] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            ns = pc.cast(col.cast(pa.timestamp("ns")), pa.int64()).to_pylist()
            columns[name] = [None if v is None else format_rfc3339_ns(v) for v in ns]
        else:
            columns[name] = [_json_value(v) for v in col.to_pylist()]
    out = []
    for i in range(table.num_rows):
        row = {name: values[i] for name, values in columns.items()}
        row["emitted_at"] = emitted_at_ns
        value = json.dumps(row, separators=(",", ":"), default=_json_default).encode()
        out.append((str(row["product_id"]).encode(), value))
    return out


def without_published(table: Any, floors: dict[str, int]) -> Any:
    """The rows of `table` not already published by a previous owner: second_at after the product's floor."""
    if not floors or table.num_rows == 0:
        return table
    import pyarrow as pa
    import pyarrow.compute as pc

    floor_s = pa.array([floors.get(p, -(2**62)) for p in table.column("product_id").to_pylist()], pa.int64())
    seconds = pc.divide(table.column("second_at").cast(pa.int64()), 1_000_000)  # timestamp[us] -> epoch s
    return table.filter(pc.greater(seconds, floor_s))
