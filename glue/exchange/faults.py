"""The fault grammar of `glue exchange --fault SPEC` (docs/contracts.md section 4) and its parser.

`N` counts data messages (l2_data, ticker, market_trades, ... : not heartbeats, acks or errors) sent
on the connection; the fault fires right after the N-th. `@K` applies the fault to connection K
(1-based, in accept order) only; the default is connection 1; `@*` applies it to every connection.

    drop:N:1000|1011|reset       close cleanly (1000), with 1011, or reset the TCP connection (1006)
    stall:N:SECONDS:silence|heartbeats   send nothing (or only heartbeats) for SECONDS, then go on
    skip_seq:N:COUNT             drop the next COUNT sequenced messages (their numbers are used up)
    duplicate:N                  send the N-th data message twice
    reorder:N                    swap the next two sequenced messages after the N-th data message
    malformed:N                  insert a frame that is not valid JSON
    unknown_channel:N            insert a sequenced message on a channel the client never heard of
    error_frame:N                insert {"type":"error","message":"..."} (connection stays open)
    oversize_snapshot:MB         pad level2 snapshots to MB megabytes
    slow_send:MS                 sleep MS milliseconds before every frame
    no_heartbeats                never send heartbeats (data keeps flowing)
    idle_close:SECONDS           close (1000) when SECONDS pass after a subscribe and heartbeats
                                 are not subscribed (Coinbase closes quiet channels in 60-90 s)
    reject_rate:PER_S            answer HTTP 429 to upgrades beyond PER_S per second (server-wide)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from glue.errors import ConfigError

# name -> (number of arguments, allowed values of the last argument or None)
_GRAMMAR: dict[str, tuple[int, tuple[str, ...] | None]] = {
    "drop": (2, ("1000", "1011", "reset")),
    "stall": (3, ("silence", "heartbeats")),
    "skip_seq": (2, None),
    "duplicate": (1, None),
    "reorder": (1, None),
    "malformed": (1, None),
    "unknown_channel": (1, None),
    "error_frame": (1, None),
    "oversize_snapshot": (1, None),
    "slow_send": (1, None),
    "no_heartbeats": (0, None),
    "idle_close": (1, None),
    "reject_rate": (1, None),
}
FAULT_NAMES = tuple(_GRAMMAR)
# Faults that fire once after N data messages (the others are properties of the connection).
TRIGGERED = frozenset({"drop", "stall", "skip_seq", "duplicate", "reorder", "malformed", "unknown_channel",
                       "error_frame"})


@dataclass(frozen=True)
class Fault:
    name: str
    args: tuple[str, ...]
    conn: int | None  # None = every connection
    spec: str

    @property
    def n(self) -> int:
        """The data-message count after which a triggered fault fires."""
        return int(self.args[0])

    def applies_to(self, conn: int) -> bool:
        return self.conn is None or self.conn == conn


def parse_fault(spec: str) -> Fault:
    """Parse one SPEC; raises ConfigError with the grammar on a bad one."""
    text = spec.strip()
    body, _, target = text.partition("@")
    name, *args = body.split(":")
    hint = "grammar: " + ", ".join(FAULT_NAMES) + " (see `glue exchange --help`)"
    if name not in _GRAMMAR:
        raise ConfigError(f"unknown fault '{name}' in --fault {spec!r}", hint)
    nargs, choices = _GRAMMAR[name]
    if len(args) != nargs:
        raise ConfigError(f"fault '{name}' takes {nargs} argument(s), got {len(args)} in {spec!r}", hint)
    numeric = args[:-1] if choices else args
    for a in numeric:
        try:
            if float(a) < 0:
                raise ValueError(a)
        except ValueError as exc:
            raise ConfigError(f"fault {spec!r}: {a!r} is not a non-negative number", hint) from exc
    if name in TRIGGERED and not args[0].isdigit():
        raise ConfigError(f"fault {spec!r}: N must be a whole number", hint)
    if choices and args[-1] not in choices:
        raise ConfigError(f"fault {spec!r}: last argument must be one of {'|'.join(choices)}", hint)
    if target == "*":
        conn = None
    elif target == "":
        conn = 1
    elif target.isdigit() and int(target) >= 1:
        conn = int(target)
    else:
        raise ConfigError(f"fault {spec!r}: '@{target}' must be @K (K >= 1) or @*", hint)
    return Fault(name, tuple(args), conn, text)


def parse_faults(specs: Sequence[str | Fault] | None) -> list[Fault]:
    return [f if isinstance(f, Fault) else parse_fault(f) for f in (specs or ())]


@dataclass
class ConnFaults:
    """The faults of one connection, with what has fired already."""

    triggered: list[Fault]
    oversize_bytes: int = 0
    slow_send_s: float = 0.0
    no_heartbeats: bool = False
    idle_close_s: float | None = None

    @classmethod
    def for_conn(cls, faults: list[Fault], conn: int) -> ConnFaults:
        mine = [f for f in faults if f.applies_to(conn)]
        out = cls(triggered=sorted((f for f in mine if f.name in TRIGGERED), key=lambda f: f.n))
        for f in mine:
            if f.name == "oversize_snapshot":
                out.oversize_bytes = int(float(f.args[0]) * 1_000_000)
            elif f.name == "slow_send":
                out.slow_send_s = float(f.args[0]) / 1000.0
            elif f.name == "no_heartbeats":
                out.no_heartbeats = True
            elif f.name == "idle_close":
                out.idle_close_s = float(f.args[0])
        return out

    def due(self, data_sent: int) -> list[Fault]:
        """Triggered faults whose N has been reached (removed: each fires once per connection)."""
        fired = [f for f in self.triggered if f.n <= data_sent]
        if fired:
            self.triggered = [f for f in self.triggered if f.n > data_sent]
        return fired
