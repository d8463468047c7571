"""`textsift serve`: a model folder behind an HTTP API with micro-batching, limits, metrics and a playground page.

FastAPI, uvicorn and prometheus-client come with `pip install 'textsift[serve]'`. They are imported only when a
server is built, so `import textsift` needs none of them. The model and its batcher live in host.py, routes in
routes.py, HTTP plumbing (errors, limits, metrics) in http.py, the batching queue in microbatch.py. An ONNX folder
is served without torch ever being imported.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textsift._optional import require
from textsift.config import ServeConfig, to_jsonable
from textsift.modeling.settings import read_settings
from textsift.serving.host import ModelHost, read_api_key

if TYPE_CHECKING:
    from fastapi import FastAPI

_ENV = "TEXTSIFT_SERVE"  # model folder and config, handed to worker processes when --workers > 1


def serve(model_dir: Path | str, cfg: ServeConfig | None = None) -> None:
    """Serve a model folder over HTTP until interrupted; SIGTERM lets in-flight requests finish first."""
    cfg = cfg or ServeConfig()
    uvicorn = require("uvicorn", extra="serve")
    folder = Path(model_dir)
    read_settings(folder)  # a missing or foreign folder stops here with one line, before any port is bound
    read_api_key(cfg.api_key_file)
    guard_connections(cfg)
    # The grace period covers the slowest request still allowed (its timeout); explanations are cancelled.
    options: dict[str, Any] = dict(host=cfg.host, port=cfg.port, access_log=False, log_level="info",
                                   timeout_graceful_shutdown=math.ceil(cfg.timeout_s) + 1,
                                   http="textsift.serving.connections:GuardedH11Protocol")
    if cfg.workers == 1:
        uvicorn.run(create_app(folder, cfg), **options)
        return
    # Worker processes import the app by name, so the folder and config travel through the environment.
    os.environ[_ENV] = json.dumps({"model_dir": str(folder.resolve()), "cfg": to_jsonable(cfg)})
    # A worker imports torch before it can answer uvicorn's health ping; the 5 s default kills it on a busy box.
    uvicorn.run("textsift.serving.app:app_from_env", factory=True, workers=cfg.workers, timeout_worker_healthcheck=120,
                **options)


def create_app(model_dir: Path | str, cfg: ServeConfig | None = None, *, classifier: Any = None) -> FastAPI:
    """The ASGI app for one model folder; pass `classifier` to reuse a model already loaded in this process."""
    cfg = cfg or ServeConfig()
    for module in ("fastapi", "prometheus_client"):
        require(module, extra="serve")
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware

    from textsift import __version__
    from textsift.serving.http import BodyGuard, Metrics, Observe, install_error_handlers
    from textsift.serving.routes import router

    metrics = Metrics()
    host = ModelHost(Path(model_dir), cfg, metrics, read_api_key(cfg.api_key_file), classifier)
    app = FastAPI(title="textsift", version=__version__, lifespan=_lifespan, redoc_url=None,
                  description="Text classification with a fine-tuned Transformer. Errors are "
                              '`{"error": {"code": ..., "message": ...}}`.')
    app.state.host = host
    app.include_router(router)
    install_error_handlers(app, metrics)
    # Added innermost first: Observe sees every response (413s included), CORS headers reach error responses too.
    app.add_middleware(BodyGuard, limit=cfg.max_body_bytes, metrics=metrics, timeout_s=cfg.body_timeout_s)
    if cfg.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cfg.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"])
    endpoints = {getattr(route, "path", "") for route in router.routes} | {"/docs", "/openapi.json"}
    app.add_middleware(Observe, metrics=metrics, endpoints=endpoints)
    return app


def guard_connections(cfg: ServeConfig) -> None:
    """Give the connection protocol this server's limits (class attributes, so worker processes get them too)."""
    from textsift.serving.connections import GuardedH11Protocol

    GuardedH11Protocol.max_connections = cfg.max_connections
    GuardedH11Protocol.header_timeout_s = cfg.header_timeout_s


def app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes (`--workers` > 1)."""
    spec = json.loads(os.environ[_ENV])
    cfg = ServeConfig(**spec["cfg"])
    guard_connections(cfg)
    if read_settings(spec["model_dir"]).backend == "torch":
        import torch

        # Each worker runs its own forward passes; splitting the cores avoids oversubscribing them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // cfg.workers))
    return create_app(spec["model_dir"], cfg)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    host: ModelHost = app.state.host
    loading = asyncio.create_task(host.start())
    with _cancel_explanations_on_sigterm(host):
        try:
            yield
        finally:
            # uvicorn has already let in-flight requests finish; drain whatever is still queued.
            if not loading.done():
                await asyncio.wait([loading])
            await host.stop()


@contextmanager
def _cancel_explanations_on_sigterm(host: ModelHost) -> Iterator[None]:
    """Chain onto uvicorn's SIGTERM handler: a running explanation is cancelled at once, so the graceful shutdown
    waits only for predictions. Only the main thread may set handlers (an in-process test client has none)."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def handle(signum: int, frame: Any) -> None:
            host.begin_shutdown()
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGTERM, handle)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
