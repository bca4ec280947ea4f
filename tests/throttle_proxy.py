"""A bandwidth-capping TCP proxy, run as its own process: `python -m tests.throttle_proxy TARGET_PORT RATE_BPS`.

Listens on a free loopback port (printed as `port <N>` on stdout once it listens), forwards every
connection to 127.0.0.1:TARGET_PORT, and delivers the server-to-client direction at no more than
RATE_BPS bytes per second (1 KiB slices, paced); client-to-server is not capped. A slow link in front of
the fake exchange, for the ingest watchdog test. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

SLICE = 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rate_bps: float | None) -> None:
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = await reader.read(SLICE if rate_bps else 65536)
            if not data:
                break
            if rate_bps:
                sent += len(data)
                ahead = sent / rate_bps - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(target_port: int, rate_bps: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w, None), _pipe(server_r, client_w, rate_bps))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
