"""The endpoints of `textsift serve`; their request and response schemas (schemas.py) are what /docs shows."""

from __future__ import annotations

import asyncio
import functools
import hmac
import importlib.util
import math
import time
from collections.abc import Awaitable
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from textsift.errors import Cancelled, MissingExtraError, TextsiftError
from textsift.serving.explainer import ExplainBusy, TooCostly
from textsift.serving.http import ApiError, error_response
from textsift.serving.microbatch import Overloaded
from textsift.serving.schemas import (
    ERRORS,
    ErrorResponse,
    ExplainRequest,
    PredictRequest,
    PredictResponse,
    RankRequest,
    RankResponse,
)

if TYPE_CHECKING:
    from textsift.serving.host import ModelHost

T = TypeVar("T")
router = APIRouter()
bearer = HTTPBearer(auto_error=False, description="The key in the server's --api-key-file, when it has one.")
# The playground may only load its own files.
PAGE_HEADERS = {"content-security-policy": "default-src 'self'; frame-ancestors 'none'", "cache-control": "no-cache"}
STATIC = {"/": ("playground.html", "text/html"), "/playground.js": ("playground.js", "text/javascript"),
          "/playground.css": ("playground.css", "text/css")}


async def authorize(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    key = _host(request).api_key
    if key is None:
        return
    # compare_digest: the time taken must not reveal how much of a guessed key was right.
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), key.encode()):
        raise ApiError(401, "unauthorized", "missing or wrong API key; send 'Authorization: Bearer <key>'",
                       {"WWW-Authenticate": "Bearer"})


@router.post("/v1/predict", response_model=PredictResponse, response_model_exclude_none=True, responses=ERRORS,
             dependencies=[Depends(authorize)])
async def predict(body: PredictRequest, request: Request) -> dict[str, Any]:
    """Answer one text, several, or pairs (pair models); concurrent requests are batched together on the server."""
    start = time.perf_counter()
    host = _host(request)
    items = _items(body, host)
    scores = await _scores(host, items)
    task, settings, k = host.classifier.task, host.classifier.settings, body.top_k or host.cfg.top_k
    return {"model": host.ref, "predictions": [task.decode(row, settings, k) for row in scores],
            "latency_ms": round((time.perf_counter() - start) * 1000, 3)}


@router.post("/v1/rank", response_model=RankResponse, responses=ERRORS, dependencies=[Depends(authorize)])
async def rank(body: RankRequest, request: Request) -> dict[str, Any]:
    """Order candidates by how well each goes with the query, with a pair model (answer matching, interests)."""
    start = time.perf_counter()
    host = _host(request)
    host.ready_batcher()
    if not host.classifier.task.pairs:
        raise ApiError(400, "rank_unsupported", "ranking needs a pair model (trained with --task pair or "
                                                "pair-regression)")
    check_count(len(body.candidates), host.cfg.max_texts, "candidates")
    check_texts([body.query, *body.candidates], host.cfg.max_texts + 1, host.cfg.max_chars)
    scores = await _scores(host, [(body.query, c) for c in body.candidates])
    column = host.classifier.task.rank_column(host.classifier.settings)
    order = sorted(range(len(body.candidates)), key=lambda i: -scores[i, column])[: body.top]
    ranking = [{"index": i, "candidate": body.candidates[i], "score": round(float(scores[i, column]), 6)}
               for i in order]
    return {"model": host.ref, "ranking": ranking, "latency_ms": round((time.perf_counter() - start) * 1000, 3)}


def _items(body: PredictRequest, host: ModelHost) -> list[Any]:
    """The request's inputs, checked against the limits and the model's input shape."""
    given = [name for name in ("text", "texts", "pairs") if getattr(body, name) is not None]
    if len(given) != 1:
        raise ApiError(422, "invalid_request", "send exactly one of 'text', 'texts' or 'pairs'")
    host.ready_batcher()
    pairs = host.classifier.task.pairs
    if pairs != (body.pairs is not None):
        raise ApiError(422, "wrong_input", "this is a pair model; send 'pairs': [[text, text_pair], ...]" if pairs
                       else "this model reads single texts; send 'text' or 'texts'")
    if body.pairs is not None:
        check_count(len(body.pairs), host.cfg.max_texts, "pairs")
        check_texts([t for pair in body.pairs for t in pair], 2 * host.cfg.max_texts, host.cfg.max_chars)
        return [tuple(pair) for pair in body.pairs]
    texts = [body.text] if body.text is not None else body.texts or []
    check_texts(texts, host.cfg.max_texts, host.cfg.max_chars)
    return texts


async def _scores(host: ModelHost, items: list[Any]) -> Any:
    try:
        return await _within(host.cfg.timeout_s, host.ready_batcher().submit(items, host.cfg.timeout_s))
    except Overloaded as e:
        raise ApiError(503, "overloaded", "the server is at capacity and could not answer in time; retry later",
                       {"Retry-After": str(max(1, math.ceil(e.retry_after_s)))}) from None


@router.post("/v1/explain", responses={**ERRORS, 501: {"model": ErrorResponse, "description": "Not installed"}},
             dependencies=[Depends(authorize)])
async def explain_text(body: ExplainRequest, request: Request) -> dict[str, Any]:
    """Word attributions (integrated gradients) for one text or pair, on a low-priority worker of its own."""
    start = time.perf_counter()
    host = _host(request)
    check_texts([body.text] + ([body.text_pair] if body.text_pair is not None else []), 2, host.cfg.max_chars)
    host.ready_batcher()
    if (body.text_pair is not None) != host.classifier.task.pairs:
        raise ApiError(422, "wrong_input", "this is a pair model; send 'text_pair' as well" if body.text_pair is None
                       else "this model reads single texts; drop 'text_pair'")
    if not getattr(host.classifier, "explainable", False):
        raise ApiError(400, "explain_unsupported", "this model folder has no PyTorch weights (ONNX); "
                                                   "serve the PyTorch folder to get explanations")

    if body.target is not None and body.target not in host.info["labels"]:
        raise ApiError(422, "unknown_label", f"target {body.target!r} is not one of {host.info['labels']}")
    steps, timeout = body.steps or host.cfg.explain_steps, host.cfg.timeout_s
    try:
        result = await host.explainer_for_model().explain(body.text, steps, body.target, timeout, body.text_pair)
    except ExplainBusy:
        raise ApiError(503, "explain_busy", "another explanation is running; retry shortly",
                       {"Retry-After": "1"}) from None
    except TooCostly as e:
        raise ApiError(422, "explain_too_costly", f"this text at {steps} steps would take about {e.seconds:.0f} s, "
                       f"over the {timeout:g} s limit; ask for at most {e.max_steps} steps") from None
    except TimeoutError:
        raise ApiError(504, "timeout", f"no explanation within {timeout:g} s; it was cancelled") from None
    except Cancelled:
        raise ApiError(503, "shutting_down", "the server is shutting down; the explanation was cancelled",
                       {"Retry-After": "1"}) from None
    except TextsiftError as e:
        # A missing optional dependency is the server's gap, anything else the request's.
        status, code = (501, "explain_unavailable") if isinstance(e, MissingExtraError) else (400, "explain_failed")
        raise ApiError(status, code, str(e)) from None
    return {"model": host.ref, "explanation": result.to_dict(),
            "latency_ms": round((time.perf_counter() - start) * 1000, 3)}


@router.get("/v1/models", responses=ERRORS, dependencies=[Depends(authorize)])
async def models(request: Request) -> dict[str, Any]:
    """The served model: name, version, labels, training facts, metrics, limits, and whether /v1/explain works."""
    host = _host(request)
    host.ready_batcher()
    cfg = host.cfg
    return {"models": [{**host.info, "explain": _can_explain(host),
                        "limits": {"max_texts": cfg.max_texts, "max_chars": cfg.max_chars,
                                   "max_body_bytes": cfg.max_body_bytes, "max_batch": cfg.max_batch}}]}


@router.get("/healthz")
async def healthz(request: Request) -> Any:
    """Liveness: the process answers. 503 only when the model failed to load."""
    host = _host(request)
    if host.state == "failed":
        return _error(host.not_ready_error(ApiError))
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorResponse}})
async def readyz(request: Request) -> Any:
    """Readiness: 200 once the model is loaded and warm, 503 before that and while shutting down."""
    host = _host(request)
    if host.state != "ready":
        return _error(host.not_ready_error(ApiError))
    return {"status": "ready", "model": host.ref}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests by endpoint and status, latency, batch sizes, errors."""
    return Response(generate_latest(_host(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
@router.get("/playground.js", include_in_schema=False)
@router.get("/playground.css", include_in_schema=False)
async def playground(request: Request) -> Response:
    name, media_type = STATIC[request.url.path]
    return Response(_static(name), media_type=media_type, headers=PAGE_HEADERS)


def check_count(n: int, limit: int, what: str) -> None:
    """422 for an empty list of inputs or one over the limit."""
    if n == 0:
        raise ApiError(422, "no_texts", f"'{what}' is empty; send at least one")
    if n > limit:
        raise ApiError(422, "too_many_texts", f"{n} {what} in one request; the limit is {limit}")


def check_texts(texts: list[str], max_texts: int, max_chars: int) -> None:
    """422 with a precise code for requests over the limits or with blank texts."""
    if not texts:
        raise ApiError(422, "no_texts", "'texts' is empty; send at least one text")
    if len(texts) > max_texts:
        raise ApiError(422, "too_many_texts", f"{len(texts)} texts in one request; the limit is {max_texts}")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ApiError(422, "empty_text", f"text {i} is empty")
        if len(text) > max_chars:
            raise ApiError(422, "text_too_long", f"text {i} has {len(text)} characters; the limit is {max_chars}")
        if not text.isascii():
            try:  # JSON can carry lone surrogates ("\ud800"), which the tokenizer cannot take
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(422, "invalid_text", f"text {i} is not valid Unicode (lone surrogate)") from None


async def _within(seconds: float, work: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise ApiError(504, "timeout", f"no answer within {seconds:g} s; the server is busy, retry later") from None


def _host(request: Request) -> ModelHost:
    return request.app.state.host


def _error(e: ApiError) -> JSONResponse:
    return error_response(e.status, e.code, e.message, e.headers)


def _can_explain(host: ModelHost) -> bool:
    # Captum is the optional part; ONNX folders have no gradients to integrate.
    return importlib.util.find_spec("captum") is not None and getattr(host.classifier, "explainable", False)


@functools.cache
def _static(name: str) -> bytes:
    return resources.files("textsift.serving").joinpath("static", name).read_bytes()
