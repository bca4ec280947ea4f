"""The level2 order book fold (SQL v4): per product, the book at the end of every second being finalized.

SQL fixes what the book reads and in which order (`stg_book_events_in` in
sql/models/staging/stg_book_events_in.sql: `reset`, `set`
and `break` rows with their ordering key); this module applies those rows in that order, one product at a
time, second by second, and writes what the grid reads: the top of book at each second's end while the book
is valid (`int_book_1s_step`), plus the book itself as state for the next step (`int_book_levels`,
`int_book_state`), all inside the engine's finalize transaction. A set-based query cannot do this fold: the
best bid after a delete is the next live level, which depends on every earlier event of that side.

The fold is exact (integer 1e-8 units) and depends only on the rows of the seconds it folds and the state
at their start, so it gives the same rows however the finalize steps are cut.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from glue.errors import WarehouseError

NS = 1_000_000_000


@dataclass
class Side:
    """One side of a book: level quantities, and a heap of prices whose top is the best price (lazily cleaned)."""

    sign: int  # +1 for asks (lowest first), -1 for bids (highest first)
    qty: dict[int, int] = field(default_factory=dict)
    heap: list[int] = field(default_factory=list)

    def set(self, price: int, qty: int) -> None:
        if qty > 0:
            if price not in self.qty:
                heapq.heappush(self.heap, self.sign * price)
            self.qty[price] = qty
        elif self.qty.pop(price, None) is not None and len(self.heap) > 2 * len(self.qty) + 64:
            # deleted prices stay in the heap until they reach its top: rebuild before it grows unbounded
            self.heap = [self.sign * p for p in self.qty]
            heapq.heapify(self.heap)

    def best(self) -> tuple[int, int] | None:
        heap, qty = self.heap, self.qty
        while heap:
            price = self.sign * heap[0]
            q = qty.get(price)
            if q is not None:
                return price, q
            heapq.heappop(heap)
        return None

    def clear(self) -> None:
        self.qty.clear()
        self.heap.clear()


@dataclass
class Book:
    """A product's book, whether it is valid, and the event time of the last change of its top (best price or
    its quantity on either side; a snapshot or a break counts as a change): the quote's age."""

    valid: bool = False
    changed_ns: int | None = None
    bid: Side = field(default_factory=lambda: Side(-1))
    ask: Side = field(default_factory=lambda: Side(+1))

    def reset(self) -> None:
        self.bid.clear()
        self.ask.clear()

    def top(self) -> tuple[int, int, int, int] | None:
        """(best bid, its qty, best ask, its qty) when valid with both sides non-empty."""
        if not self.valid:
            return None
        bid, ask = self.bid.best(), self.ask.best()
        if bid is None or ask is None:
            return None
        return bid[0], bid[1], ask[0], ask[1]


@dataclass
class StepResult:
    """What one fold step produced: the per-second tops and the state to persist."""

    tops: dict[str, list] = field(default_factory=lambda: {k: [] for k in TOP_COLUMNS})
    touched: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # product -> levels changed
    rebuilt: set[str] = field(default_factory=set)  # products whose stored levels are replaced entirely
    breaks: dict[str, int] = field(default_factory=dict)  # reason -> count


TOP_COLUMNS = ("product_id", "second_s", "changed_ns", "best_bid_e8", "best_bid_qty_e8", "best_ask_e8",
               "best_ask_qty_e8")


def has_book(con: Any) -> bool:
    """Whether the applied SQL version keeps a level2 book (defines stg_book_events_in: v4 on)."""
    from glue.warehouse.sql_landing import defines

    return defines(con, "stg_book_events_in")


class BookFold:
    """The books of one warehouse connection, kept in memory between steps (the tables hold the truth)."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.books: dict[str, Book] = {}
        self.through_s: dict[str, int] = {}

    def forget(self) -> None:
        """Drop the in-memory books (after a rolled-back step): they are reloaded from the tables."""
        self.books.clear()
        self.through_s.clear()

    def step(self, ranges: dict[str, tuple[int, int]], lo_s: int, hi_s: int) -> StepResult:
        """Fold every product's book over its range [from_s, to_s]; fill int_book_1s_step; persist the state."""
        self._load([p for p in ranges if p not in self.books])
        for pid, (from_s, _) in ranges.items():
            through = self.through_s.get(pid)
            if through is not None and through != from_s - 1:
                raise WarehouseError(
                    f"level2 book of {pid} was folded through second {through}, the step starts at {from_s}",
                    "the warehouse file is inconsistent: replay into a new warehouse",
                )
        rows = self._actions(lo_s, hi_s)
        out = StepResult()
        for pid in sorted(ranges):
            from_s, to_s = ranges[pid]
            self._fold(pid, from_s, to_s, rows.get(pid, []), out)
            self.through_s[pid] = to_s
        self._store(ranges, out)
        return out

    # ---------------------------------------------------------------- reading
    def _load(self, products: list[str]) -> None:
        if not products:
            return
        for pid in products:
            self.books[pid] = Book()
        states = self.con.execute(
            "SELECT product_id, is_valid, changed_ns, through_s FROM int_book_state "
            "WHERE list_contains(?, product_id)", [products]).fetchall()
        for pid, valid, changed_ns, through_s in states:
            book = self.books[pid]
            book.valid, book.changed_ns = bool(valid), changed_ns
            self.through_s[pid] = int(through_s)
        levels = self.con.execute(
            "SELECT product_id, side, price_e8, qty_e8 FROM int_book_levels WHERE list_contains(?, product_id)",
            [products]).fetchall()
        for pid, side, price, qty in levels:
            book = self.books[pid]
            (book.bid if side == "bid" else book.ask).set(int(price), int(qty))

    def _actions(self, lo_s: int, hi_s: int) -> dict[str, list[tuple]]:
        """The step's book actions per product, in application order (only products in ctl_finalize)."""
        table = self.con.sql(
            "SELECT b.product_id, b.second_s, b.at_ns, b.action, b.side, b.price_e8, b.qty_e8, b.reason "
            f"FROM stg_book_events_in(CAST({(lo_s - 1) * NS} AS BIGINT), CAST({hi_s * NS} AS BIGINT)) AS b "
            "JOIN ctl_finalize AS c ON c.product_id = b.product_id AND b.second_s BETWEEN c.from_s AND c.to_s "
            "ORDER BY b.product_id, b.at_ns, b.phase, b.land_seq, b.event_idx, b.update_idx").to_arrow_table()
        # column lists zipped into rows: several times cheaper than fetchall() for 10^5 rows
        products = table.column("product_id").to_pylist()
        rows = list(zip(*(table.column(i).to_pylist() for i in range(1, table.num_columns)), strict=True))
        out: dict[str, list[tuple]] = {}
        start = 0
        for i in range(1, len(products) + 1):
            if i == len(products) or products[i] != products[start]:
                out[products[start]] = rows[start:i]
                start = i
        return out

    # ---------------------------------------------------------------- folding
    def _fold(self, pid: str, from_s: int, to_s: int, actions: list[tuple], out: StepResult) -> None:
        book = self.books[pid]
        touched = out.touched.setdefault(pid, set())
        tops = out.tops
        i, n = 0, len(actions)
        second = from_s
        while second <= to_s:
            while i < n and actions[i][0] == second:
                _, at_ns, action, side, price, qty, reason = actions[i]
                i += 1
                if action == "set":
                    if book.valid:
                        levels = book.bid if side == "bid" else book.ask
                        before = levels.best()
                        levels.set(price, qty)
                        touched.add((side, price))
                        if levels.best() != before:  # changed_ns dates the top of book, not deeper levels
                            book.changed_ns = at_ns
                elif action == "reset":
                    book.reset()
                    book.valid, book.changed_ns = True, at_ns
                    out.rebuilt.add(pid)
                else:  # break; a gap is news only where it breaks a valid book, bad l2 input always is
                    if book.valid or reason != "data_gap":
                        out.breaks[reason] = out.breaks.get(reason, 0) + 1
                    if book.valid:
                        book.reset()
                        book.valid, book.changed_ns = False, at_ns
                        out.rebuilt.add(pid)
            top = book.top()
            if top is None:
                # nothing to emit until the next action: skip the quiet seconds in one go
                second = actions[i][0] if i < n else to_s + 1
                continue
            tops["product_id"].append(pid)
            tops["second_s"].append(second)
            tops["changed_ns"].append(book.changed_ns)
            tops["best_bid_e8"].append(top[0])
            tops["best_bid_qty_e8"].append(top[1])
            tops["best_ask_e8"].append(top[2])
            tops["best_ask_qty_e8"].append(top[3])
            second += 1

    # ---------------------------------------------------------------- writing
    def _store(self, ranges: dict[str, tuple[int, int]], out: StepResult) -> None:
        import pyarrow as pa

        con = self.con
        con.execute("DELETE FROM int_book_1s_step")
        if out.tops["product_id"]:
            con.register("_book_tops", pa.table({k: out.tops[k] for k in TOP_COLUMNS}))
            con.execute("INSERT INTO int_book_1s_step SELECT * FROM _book_tops")
            con.unregister("_book_tops")
        gone: dict[str, list] = {"product_id": [], "side": [], "price_e8": []}
        kept: dict[str, list] = {"product_id": [], "side": [], "price_e8": [], "qty_e8": []}
        for pid, levels in out.touched.items():
            if pid in out.rebuilt:
                continue
            book = self.books[pid]
            for side, price in levels:
                gone["product_id"].append(pid)
                gone["side"].append(side)
                gone["price_e8"].append(price)
                q = (book.bid if side == "bid" else book.ask).qty.get(price)
                if q is not None:
                    _append_level(kept, pid, side, price, q)
        for pid in sorted(out.rebuilt):
            book = self.books[pid]
            for side_name, side in (("bid", book.bid), ("ask", book.ask)):
                for price, q in side.qty.items():
                    _append_level(kept, pid, side_name, price, q)
        if out.rebuilt:
            con.execute("DELETE FROM int_book_levels WHERE list_contains(?, product_id)", [sorted(out.rebuilt)])
        if gone["product_id"]:
            con.register("_book_gone", pa.table(gone))
            con.execute("DELETE FROM int_book_levels AS l USING _book_gone AS g "
                        "WHERE l.product_id = g.product_id AND l.side = g.side AND l.price_e8 = g.price_e8")
            con.unregister("_book_gone")
        if kept["product_id"]:
            con.register("_book_kept", pa.table(kept, schema=_level_schema()))
            con.execute("INSERT INTO int_book_levels SELECT * FROM _book_kept")
            con.unregister("_book_kept")
        products = sorted(ranges)
        state = pa.table({
            "product_id": products,
            "is_valid": [self.books[p].valid for p in products],
            "changed_ns": pa.array([self.books[p].changed_ns for p in products], pa.int64()),
            "through_s": [ranges[p][1] for p in products],
        })
        con.execute("DELETE FROM int_book_state WHERE list_contains(?, product_id)", [products])
        con.register("_book_state", state)
        con.execute("INSERT INTO int_book_state SELECT * FROM _book_state")
        con.unregister("_book_state")


def _append_level(cols: dict[str, list], pid: str, side: str, price: int, qty: int) -> None:
    cols["product_id"].append(pid)
    cols["side"].append(side)
    cols["price_e8"].append(price)
    cols["qty_e8"].append(qty)


def _level_schema() -> Any:
    import pyarrow as pa

    return pa.schema([("product_id", pa.string()), ("side", pa.string()), ("price_e8", pa.int64()),
                      ("qty_e8", pa.int64())])
