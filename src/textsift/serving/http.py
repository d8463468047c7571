"""HTTP plumbing for `textsift serve`: one JSON error shape, body limits, metrics and the catch-all 500.

Every error a client sees is `{"error": {"code": ..., "message": ...}}`; tracebacks stay in the server log.
The middlewares are plain ASGI (no per-request task or body copy beyond the limit check), to keep latency low.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("textsift.serve")
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ApiError(Exception):
    """An error the client caused or should know about, with a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class Metrics:
    """Prometheus metrics in a registry of their own, so several apps can live in one process (tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("textsift_requests", "HTTP requests by endpoint and status.", ["endpoint", "status"],
                                registry=r)
        self.latency = Histogram("textsift_request_latency_seconds", "Request latency by endpoint.", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.in_progress = Gauge("textsift_requests_in_progress", "Requests being handled.", ["endpoint"], registry=r)
        self.queued = Gauge("textsift_queued_requests", "Requests waiting for a forward pass.", registry=r)
        self.errors = Counter("textsift_errors", "Error responses by code.", ["code"], registry=r)
        self.batch_size = Histogram("textsift_batch_size", "Texts per forward pass.", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.inference = Histogram("textsift_inference_seconds", "Time of one forward pass (batch).",
                                   buckets=LATENCY_BUCKETS, registry=r)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Map every failure FastAPI knows about onto the one error shape."""

    def respond(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        metrics.errors.labels(code).inc()
        return error_response(status, code, message, headers)

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return respond(exc.status, exc.code, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return respond(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return respond(400, "malformed_json", "the request body is not valid JSON")
        return respond(422, "invalid_request", "; ".join(_describe(e) for e in errors[:5]))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


class BodyGuard:
    """JSON bodies only (415 otherwise), and 413 over `limit` bytes: by Content-Length up front, else by counting.

    `curl -d` labels JSON as a form; such a body is read as JSON when the request carries an Authorization header,
    which no browser adds to a cross-site form post, so this opens no CSRF hole.
    """

    def __init__(self, app: ASGIApp, limit: int, metrics: Metrics) -> None:
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type == b"application/x-www-form-urlencoded" and b"authorization" in headers:
            scope = {**scope, "headers": [(k, b"application/json" if k == b"content-type" else v)
                                          for k, v in scope["headers"]]}
        elif media_type != b"application/json" and not media_type.endswith(b"+json"):
            self.metrics.errors.labels("unsupported_media_type").inc()
            response = error_response(415, "unsupported_media_type",
                                      "send the body as JSON with the header 'Content-Type: application/json'")
            return await response(scope, receive, send)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._reject(scope, receive, send)
        # Read the (bounded) body now, so an oversized chunked upload is refused before any parsing.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                return await self._reject(scope, receive, send)
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.errors.labels("body_too_large").inc()
        response = error_response(413, "body_too_large", f"the request body is over {self.limit} bytes")
        response.headers["connection"] = "close"  # the rest of the upload is not read
        await response(scope, receive, send)


class Observe:
    """Counts and times every request, turns uncaught exceptions into a generic 500, adds nosniff."""

    def __init__(self, app: ASGIApp, metrics: Metrics, endpoints: set[str]) -> None:
        self.app, self.metrics, self.endpoints = app, metrics, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Label by known route only, so random paths cannot blow up metric cardinality.
        endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
        status, started, start = 500, False, time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        self.metrics.in_progress.labels(endpoint).inc()
        try:
            await self.app(scope, receive, send_observed)
        except Exception:  # noqa: BLE001 - the client gets a generic message, the log gets the traceback
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            status = 500
            self.metrics.errors.labels("internal").inc()
            if not started:  # a response already under way can only be cut short
                await error_response(500, "internal", "internal server error; see the server log")(scope, receive, send)
        finally:
            self.metrics.in_progress.labels(endpoint).dec()
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
