"""The live view's web server: one page, its scripts, and a server-sent-event stream (Starlette + uvicorn).

Read-only by construction: every route is GET, nothing the page sends is acted on, and the page's
Content-Security-Policy allows scripts from this server only (no inline script, no CDN). The charts are
plotly.js as shipped inside the installed `plotly` Python package (MIT; its license is served at
/licenses/plotly.txt). `/events` pushes, every `view.push_interval_s`, the rows a page has not seen yet
and the health table; `/healthz` is the container health check.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from glue.config import Settings
from glue.errors import ConfigError
from glue.view.state import ViewState

log = logging.getLogger("glue.view")

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def plotly_files() -> tuple[Path, Path | None]:
    """plotly.min.js and the license file of the installed plotly package."""
    import plotly

    root = Path(plotly.__file__).resolve().parent
    js = root / "package_data" / "plotly.min.js"
    if not js.is_file():
        raise ConfigError("plotly.min.js is missing from the installed plotly package", "reinstall: make venv")
    dist = next(root.parent.glob("plotly-*.dist-info"), None)
    license_file = next((p for p in (dist.glob("LICENSE*") if dist else [])), None)
    return js, license_file


class ViewApp:
    """The Starlette application over a `ViewState` guarded by `lock`."""

    def __init__(self, settings: Settings, state: ViewState, lock: threading.Lock, reader: Any = None,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.state = state
        self.lock = lock
        self.reader = reader
        self.stop = stop or threading.Event()
        js, license_file = plotly_files()
        raw = js.read_bytes()
        self.assets: dict[str, tuple[bytes, bytes | None, str]] = {
            "plotly.min.js": (raw, gzip.compress(raw, 6), "text/javascript; charset=utf-8"),
        }
        for name, kind in (("view.js", "text/javascript"), ("view.css", "text/css"), ("favicon.svg", "image/svg+xml")):
            body = (STATIC / name).read_bytes()
            self.assets[name] = (body, None, f"{kind}; charset=utf-8")
        self.license_text = license_file.read_bytes() if license_file else b"plotly.js: MIT license\n"
        self.index = (STATIC / "index.html").read_bytes()
        self.app = self._build()

    def _build(self) -> Any:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        def headers(extra: dict[str, str] | None = None) -> dict[str, str]:
            return {**SECURITY_HEADERS, **(extra or {})}

        async def index(_request: Any) -> Response:
            return Response(self.index, media_type="text/html; charset=utf-8",
                            headers=headers({"Cache-Control": "no-store"}))

        async def asset(request: Any) -> Response:
            found = self.assets.get(request.path_params["name"])
            if found is None:
                return Response(b"not found\n", status_code=404, media_type="text/plain", headers=headers())
            body, zipped, kind = found
            extra = {"Cache-Control": "max-age=3600", "Vary": "Accept-Encoding"}
            if zipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
                return Response(zipped, media_type=kind, headers=headers({**extra, "Content-Encoding": "gzip"}))
            return Response(body, media_type=kind, headers=headers(extra))

        async def license_(_request: Any) -> Response:
            return Response(self.license_text, media_type="text/plain; charset=utf-8", headers=headers())

        async def healthz(_request: Any) -> Response:
            with self.lock:
                h = self.state.health(time.time_ns())
            error = getattr(self.reader, "error", "")
            ok = not error and self.reader is not None and bool(getattr(self.reader, "assigned", None))
            body = {"ok": ok, "reader_error": error, "topics": h["topics"], "products": len(h["products"])}
            return JSONResponse(body, status_code=200 if ok else 503, headers=headers())

        async def events(request: Any) -> Response:
            return StreamingResponse(self._stream(request), media_type="text/event-stream",
                                     headers=headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"}))

        routes = [
            Route("/", index, methods=["GET"]),
            Route("/static/{name}", asset, methods=["GET"]),
            Route("/licenses/plotly.txt", license_, methods=["GET"]),
            Route("/favicon.ico", lambda _r: Response(self.assets["favicon.svg"][0], media_type="image/svg+xml",
                                                      headers=headers()), methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/events", events, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    def payload(self, cursor: int) -> tuple[bytes, int]:
        """One SSE message: new events since `cursor`, the health table and the server time."""
        now_ns = time.time_ns()
        with self.lock:
            rows, cursor, reset = self.state.events_after(cursor)
            health = self.state.health(now_ns)
        health["reader_error"] = getattr(self.reader, "error", "")
        message = {"reset": reset, "rows": rows, "health": health, "now_ms": now_ns // 1_000_000,
                   "history_s": self.settings.view.history_s}
        # ensure_ascii: the stream is plain ASCII whatever the feed sends; the page renders strings as text.
        return b"data: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n", cursor

    async def _stream(self, request: Any) -> AsyncIterator[bytes]:
        cursor = 0
        interval = max(0.05, self.settings.view.push_interval_s)
        yield b"retry: 1000\n\n"
        while not self.stop.is_set():
            body, cursor = self.payload(cursor)
            yield body
            await asyncio.sleep(interval)
            if await request.is_disconnected():
                break


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 = any free port), or a `ConfigError` naming the setting to change."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"view: cannot listen on {host}:{port} ({exc.strerror or exc})",
                          "pick another port: glue view --port N (or view.port)") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
