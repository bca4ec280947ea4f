"""The official Coinbase SDK reads the fake exchange (issue 14, item 6).

`coinbase-advanced-py` 1.8.4 (test-only, requirements-sdk.txt) is the best evidence of what the real
feed sends: its `WebsocketResponse` pops `client_id` (a KeyError without it). A real `glue exchange`
process, a real WebSocket connection subscribed to every public channel; every frame of the run must
parse with the SDK's own type, every channel must have been seen. With `--no-client-id` (for captures
that lack the field) the SDK rejects the frames, which is what the flag is for.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

from coinbase.websocket.types.websocket_response import WebsocketResponse

from tests.integration.test_ingest_faults import glue_exchange

CHANNELS = ("level2", "ticker", "ticker_batch", "market_trades", "heartbeats")
PRODUCTS = ["BTC-USD", "ETH-USD"]


def _frames(port: int, seconds: float) -> list[str]:
    from websockets.asyncio.client import connect

    async def main() -> list[str]:
        out: list[str] = []
        async with connect(f"ws://127.0.0.1:{port}", max_size=2**27) as ws:
            for channel in CHANNELS:
                msg = {"type": "subscribe", "channel": channel}
                if channel != "heartbeats":
                    msg["product_ids"] = PRODUCTS
                await ws.send(json.dumps(msg))
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    out.append(await asyncio.wait_for(ws.recv(), timeout=max(0.01, end - time.monotonic())))
                except TimeoutError:
                    break
        return out

    return asyncio.run(main())


def _sdk_parse(frames: list[str]) -> tuple[Counter, list[str]]:
    seen, failures = Counter(), []
    for text in frames:
        try:
            response = WebsocketResponse(json.loads(text))
        except Exception as exc:  # the SDK's own failure, whatever it is, is the finding
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        seen[response.channel] += 1
        assert response.client_id == "" and isinstance(response.sequence_num, int) and response.events is not None
    return seen, failures


def test_the_official_sdk_parses_every_frame_of_every_channel():
    with glue_exchange("--products", ",".join(PRODUCTS), "--speed", "5", "--seed", "11") as port:
        frames = _frames(port, 6.0)
    seen, failures = _sdk_parse(frames)
    assert not failures, f"{len(failures)} of {len(frames)} frames rejected by the SDK, e.g. {failures[:3]}"
    assert set(seen) >= {"l2_data", "ticker", "ticker_batch", "market_trades", "heartbeats", "subscriptions"}, seen
    assert sum(seen.values()) == len(frames) > 100


def test_without_client_id_the_sdk_rejects_the_frames():
    with glue_exchange("--products", "BTC-USD", "--speed", "5", "--no-client-id") as port:
        frames = _frames(port, 2.0)
    seen, failures = _sdk_parse(frames)
    assert frames and len(failures) == len(frames) and not seen
    assert all("client_id" in f for f in failures)
