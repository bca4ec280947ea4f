"""YAML fixture tests for the SQL views (in-memory DuckDB, the real engine).

A fixture file `sql/tests/<layer>/<object>.yml` holds the small cases of one object (the layer folder as in
sql/models/); each case names the SQL versions it covers and runs once on each of them:

    view: int_grid_1s
    cases:
      - name: last mid carried forward
        versions: ">=v1"                   # every version from v1 on (a new version inherits the case), or a
                                           # list: [v2, v3] (exactly those); required
        lateness_s: 0                      # default 0 in fixtures
        records:                           # landed in this order through Warehouse.land
          - {ticker: BTC-USD, at: "2026-01-01T00:00:00.4Z", bid: "100", ask: "102", seq: 1}
          - {trades: BTC-USD, at: "...", items: [["1", "101", "0.5"]], seq: 2}
          - {gap: [BTC-USD], from: "...", to: "..."}
          - {l2: BTC-USD, at: "...", seq: 3}   # no levels: only moves the product's event time (the watermark)
          - {l2: BTC-USD, at: "...", seq: 4, type: snapshot, bids: [["100", "1"]], asks: [["101", "2"]]}
                                             # level2 (v4 on: the book); `levels: [[side, price, qty]]` raw items
          - {clock: [BTC-USD], at: "..."}      # a clock marker (ingest, per heartbeat): moves it too (v3 on)
          - {raw: '<frame text>', recv_ns: 0}    # a frame as-is (malformed, unknown channel, ...)
        batches: [2, 1]                    # optional cut sizes: land+finalize after each (default: one batch)
        tau: {BTC-USD: 2.0, default: 1.0}  # optional cfg_label_tau rows
        k: {default: 1.5}                  # optional cfg_label_k rows (v5 on)
        query: SELECT second_at, mid_price FROM int_grid_1s ORDER BY 1   # default: SELECT * FROM <view>
        expect:                            # rows of the query; only the listed columns are compared
          - {second_at: "2026-01-01 00:00:01", mid_price: 101.0, sql_version: $version}

Timestamps compare as text (`YYYY-MM-DD HH:MM:SS`), decimals and doubles as numbers (relative 1e-9); an expected
value `$version` is the version the case runs on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from glue.config import FeatureSettings
from glue.records import KIND_FRAME, Record
from glue.testing import fixtures as fx

VERSION_PLACEHOLDER = "$version"


@dataclass(frozen=True)
class Case:
    """One fixture case on one SQL version (a case covering three versions is three Cases)."""

    file: str
    view: str
    name: str
    spec: dict[str, Any]
    version: str

    @property
    def id(self) -> str:
        return f"{self.version}/{Path(self.file).stem}::{self.name}"

    @property
    def expect(self) -> list[dict[str, Any]]:
        """The expected rows, `$version` filled in with the version the case runs on."""
        return [{k: self.version if v == VERSION_PLACEHOLDER else v for k, v in row.items()}
                for row in self.spec.get("expect") or []]


def case_versions(covers: Any, versions: list[str], where: str) -> list[str]:
    """The versions a case's `versions:` names: a list of versions, or `">=vN"` (vN and every later version)."""
    if isinstance(covers, str) and covers.startswith(">="):
        first = covers[2:].strip()
        if first not in versions:
            raise ValueError(f"{where}: versions {covers!r}: {first} is not in the manifest ({', '.join(versions)})")
        return versions[versions.index(first):]
    if isinstance(covers, list) and covers:
        unknown = [v for v in covers if v not in versions]
        if unknown:
            raise ValueError(f"{where}: versions {unknown} are not in the manifest ({', '.join(versions)})")
        return [v for v in versions if v in covers]
    raise ValueError(f"{where}: say which SQL versions the case covers: versions: \">=v1\" or versions: [v2, v3]")


def load_cases(tests_dir: str | Path, versions: list[str] | tuple[str, ...]) -> list[Case]:
    """The cases of every `<layer>/<object>.yml` under `tests_dir`, one Case per version each covers.

    `versions` are the manifest's versions in order (what `">=vN"` counts from); file order, then case order.
    """
    known = list(versions)
    cases = []
    for path in sorted(Path(tests_dir).glob("*/*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for spec in doc.get("cases") or []:
            where = f"{path}: case {spec.get('name')!r}"
            for version in case_versions(spec.get("versions"), known, where):
                cases.append(Case(str(path), doc["view"], spec["name"], spec, version))
    return cases


def build_records(items: list[dict[str, Any]]) -> list[Record]:
    """The fixture's `records:` items as Records, in order (`series` expands to several)."""
    out: list[Record] = []
    for i, it in enumerate(items):
        seq = it.get("seq", i)
        conn = it.get("conn", "c1")
        if "ticker" in it:
            out.append(fx.ticker(it["ticker"], it["at"], _s(it.get("bid")), _s(it.get("ask")), seq=seq, conn=conn,
                                 price=_s(it.get("price")), bid_qty=_s(it.get("bid_qty", "1")),
                                 ask_qty=_s(it.get("ask_qty", "1")), iseq=i))
        elif "trades" in it:
            trade_items = [(str(tid), str(px), str(size)) for tid, px, size in it["items"]]
            out.append(fx.trades(it["trades"], it["at"], trade_items, seq=seq, conn=conn))
        elif "gap" in it:
            out.append(fx.gap(list(it["gap"]), it["from"], it["to"], iseq=i, conn=conn))
        elif "clock" in it:
            out.append(fx.clock(list(it["clock"]), it["at"], iseq=i, conn=conn))
        elif "l2" in it:
            out.append(fx.l2(it["l2"], it["at"], seq=seq, conn=conn, kind=it.get("type", "update"),
                             bids=_pairs(it.get("bids")), asks=_pairs(it.get("asks")),
                             levels=[tuple(map(_s, lv)) for lv in it.get("levels") or []]))
        elif "series" in it:
            out.extend(_series(it, len(out)))
        elif "raw" in it:
            out.append(Record(kind=KIND_FRAME, recv_ns=int(it.get("recv_ns", 0)), conn=conn, iseq=i, frame=it["raw"]))
        else:
            raise ValueError(f"unknown fixture record {it}")
    return out


def _series(it: dict[str, Any], first_iseq: int) -> list[Record]:
    """`{series: P, start: at, count: n, mids: [..] (cycled), step_ms: 1000, half_spread: 1, seq: s0}`."""
    mids = [Decimal(str(m)) for m in it["mids"]]
    count = int(it.get("count", len(mids)))
    half = Decimal(str(it.get("half_spread", 1)))
    step_ns = int(it.get("step_ms", 1000)) * 1_000_000
    start = fx._ns(it["start"])
    seq0 = int(it.get("seq", 1000))
    out = []
    for k in range(count):
        mid = mids[k % len(mids)]
        out.append(fx.ticker(it["series"], start + k * step_ns, str(mid - half), str(mid + half), seq=seq0 + k,
                             conn=it.get("conn", "c1"), bid_qty=str(it.get("bid_qty", 1)),
                             ask_qty=str(it.get("ask_qty", 1)), iseq=first_iseq + k))
    return out


def _pairs(v: Any) -> list[tuple[str | None, str | None]]:
    return [(_s(p), _s(q)) for p, q in v or []]


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def run_case(case: Case, sql_dir: str = "sql") -> list[dict[str, Any]]:
    """Land the case's records through the real engine at the case's SQL version, run its query; return the rows."""
    from glue.warehouse import Warehouse

    spec = case.spec
    settings = FeatureSettings(sql_dir=sql_dir, sql_version=case.version, lateness_s=int(spec.get("lateness_s", 0)))
    records = build_records(spec.get("records") or [])
    with Warehouse.open(":memory:", settings) as wh:
        for product, tau in (spec.get("tau") or {}).items():
            wh.set_tau(float(tau), None if product == "default" else product)
        for product, k in (spec.get("k") or {}).items():
            wh.set_k(float(k), None if product == "default" else product)
        cuts = list(spec.get("batches") or [len(records)])
        start = 0
        for size in cuts:
            wh.land(records[start:start + size])
            wh.finalize()
            start += size
        if start < len(records):
            wh.land(records[start:])
            wh.finalize()
        query = spec.get("query") or f"SELECT * FROM {case.view}"
        rel = wh.con.sql(query)
        cols = rel.columns
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Differences as readable lines (empty = equal)."""
    problems = []
    if len(expected) != len(actual):
        problems.append(f"expected {len(expected)} rows, got {len(actual)}: {actual}")
        return problems
    for i, (exp_row, act_row) in enumerate(zip(expected, actual, strict=True)):
        for col, want in exp_row.items():
            if col not in act_row:
                problems.append(f"row {i}: no column {col}")
                continue
            got = act_row[col]
            if not _equal(want, got):
                problems.append(f"row {i} {col}: expected {want!r}, got {got!r}")
    return problems


def _equal(want: Any, got: Any) -> bool:
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, bool) or isinstance(got, bool):
        return want == got
    if isinstance(got, (int, float, Decimal)) and isinstance(want, (int, float, str)):
        try:
            w, g = float(want), float(got)
        except ValueError:
            return False
        return math.isclose(w, g, rel_tol=1e-9, abs_tol=1e-12)
    return str(want) == str(got)
