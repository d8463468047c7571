"""HTTP plumbing for `textsift serve`: one JSON error shape, body limits, metrics and the catch-all 500.

Every error a client sees is `{"error": {"code": ..., "message": ...}}`; tracebacks stay in the server log.
The middlewares are plain ASGI (no per-request task or body copy beyond the limit check), to keep latency low.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
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
        self.wasted = Gauge("textsift_wasted_model_seconds", "Model time spent on answers whose callers had gone.",
                            registry=r)
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
    """JSON bodies only (415 otherwise); 413 over `limit` bytes, by Content-Length up front, else by counting; 408
    when the body has not arrived within `timeout_s`.

    Before a 413 the rest of the upload (up to `drain_limit` bytes, within the timeout) is read and dropped: a
    server that closes while the client still sends makes the kernel reset the connection, and the client then
    sees a broken pipe instead of the 413. `curl -d` labels JSON as a form; such a body is read as JSON when the
    request carries an Authorization header, which no browser adds to a cross-site form post (no CSRF hole).
    """

    def __init__(self, app: ASGIApp, limit: int, metrics: Metrics, timeout_s: float = 10.0,
                 drain_limit: int = 64 * 1024 * 1024) -> None:
        self.app, self.limit, self.metrics = app, limit, metrics
        self.timeout_s, self.drain_limit = timeout_s, drain_limit

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
            drain = declared.isdigit() and int(declared) <= self.drain_limit
            return await self._reject(scope, receive, send, drain=drain)
        try:
            body = await self._read(receive)
        except _TooLarge:
            return await self._reject(scope, receive, send, drain=True)
        except TimeoutError:
            return await self._too_slow(scope, receive, send)
        if body is None:
            return  # the client went away mid-body; Observe counts it as 499
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole (bounded) body, read now, so an oversized chunked upload is refused before any parsing."""
        chunks, size, more = [], 0, True
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while more:
            message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                raise _TooLarge
        return b"".join(chunks)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, *, drain: bool) -> None:
        self.metrics.errors.labels("body_too_large").inc()
        if drain:
            await self._drain(receive)
        response = error_response(413, "body_too_large", f"the request body is over {self.limit} bytes")
        response.headers["connection"] = "close"
        await response(scope, receive, send)

    async def _drain(self, receive: Receive) -> None:
        """Read and drop the rest of the body, bounded in bytes and time, so the client can read our answer."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout_s):
                dropped, more = 0, True
                while more and dropped <= self.drain_limit:
                    message = await receive()
                    dropped += len(message.get("body", b""))
                    more = message["type"] == "http.request" and message.get("more_body", False)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.errors.labels("request_timeout").inc()
        response = error_response(408, "request_timeout", f"the request body did not arrive within "
                                                          f"{self.timeout_s:g} s")
        response.headers["connection"] = "close"
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class Observe:
    """Counts and times every request, turns uncaught exceptions into a generic 500, adds nosniff, serves HEAD.

    A request whose client went away before any answer is counted as 499 (nginx's "client closed request"), never
    as a server error, so it cannot raise a false 5xx alert. HEAD is answered by the GET route, without the body.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, endpoints: set[str]) -> None:
        self.app, self.metrics, self.endpoints = app, metrics, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Label by known route only, so random paths cannot blow up metric cardinality.
        endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
        status, started, gone, start = 500, False, False, time.perf_counter()

        async def receive_observed() -> Message:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def send_observed(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        inner = {**scope, "method": "GET"} if scope["method"] == "HEAD" else scope  # uvicorn drops HEAD bodies
        self.metrics.in_progress.labels(endpoint).inc()
        try:
            await self.app(inner, receive_observed, send_observed)
            if not started and gone:
                status = 499
        except ClientDisconnect:
            status = 499
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
