"""The live view (`glue view`): a read-only page of prices, volatility, spike probability, alerts and
pipeline health, pushed to the browser as server-sent events.

`state` holds what was read (no I/O), `reader` reads the three topics as the view's own consumer,
`server` is the Starlette app, and `run_view` wires them under uvicorn until Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from glue.config import Settings
from glue.view.state import LabelRule

log = logging.getLogger("glue.view")


def label_rule(settings: Settings) -> LabelRule:
    """The label of the model in `view.model` (or `model.artifacts_dir`) from its model.json: tau per
    product for the assignment label, k and the reference for the relative one; no line without a model."""
    from glue.modeling.labels import RELATIVE

    directory = Path(settings.view.model or settings.model.artifacts_dir)
    path = directory / "model.json"
    try:
        meta = json.loads(path.read_text())
        tau = meta.get("tau_bps") or {}
    except (OSError, ValueError, AttributeError):
        log.info("view: no label threshold shown (no readable %s)", path)
        return LabelRule()
    if isinstance(tau, int | float):
        tau = {"*": float(tau)}
    taus = {str(k): float(v) for k, v in tau.items() if isinstance(v, int | float)} if isinstance(tau, dict) else {}
    k = meta.get("k")
    if meta.get("label") == RELATIVE:
        return LabelRule(RELATIVE, taus, float(k) if isinstance(k, int | float) else None,
                         int(meta.get("reference_s") or 600))
    return LabelRule(tau_bps=taus)


def run_view(settings: Settings, *, on_listening: Callable[[str], None] | None = None,
             stop: threading.Event | None = None) -> None:
    """Serve the view until SIGINT/SIGTERM (or `stop`); `on_listening(url)` once the port is open."""
    import asyncio

    import uvicorn

    from glue.view.reader import TopicReader
    from glue.view.server import ViewApp, bind_socket
    from glue.view.state import ViewState

    vs = settings.view
    sock = bind_socket(vs.host, vs.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    stop = stop or threading.Event()
    state = ViewState(history_s=vs.history_s, stale_s=vs.stale_s, max_alerts=vs.max_alerts,
                      label=label_rule(settings))
    lock = threading.Lock()
    reader = TopicReader(settings, state, lock, stop)
    view = ViewApp(settings, state, lock, reader, stop)
    config = uvicorn.Config(view.app, log_level="warning", lifespan="off", access_log=False,
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)

    async def watch_stop() -> None:
        while not stop.is_set() and not server.should_exit:
            await asyncio.sleep(0.2)
        server.should_exit = True
        stop.set()  # ends the SSE streams and the reader

    async def main() -> None:
        watcher = asyncio.create_task(watch_stop())
        try:
            await server.serve(sockets=[sock])
        finally:
            stop.set()
            watcher.cancel()

    reader.start()
    log.info("view: serving %s (read-only; %s, %s, %s from Kafka %s)", url, settings.kafka.topic_raw,
             settings.kafka.topic_features, settings.kafka.topic_predictions, settings.kafka.bootstrap_servers)
    if on_listening is not None:
        on_listening(url)
    try:
        asyncio.run(main())
    finally:
        stop.set()
        reader.thread.join(timeout=5)
        sock.close()
        log.info("view: stopped")
