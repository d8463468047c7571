"""The request and response schemas of the HTTP API (pydantic): what /docs and /openapi.json publish."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `text_too_long`.")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse, "description": text} for status, text in {
    400: "Malformed JSON, or a request the model cannot serve", 401: "Missing or wrong API key",
    413: "Body too large", 415: "Body not sent as JSON",
    422: "Invalid request: wrong types, empty text, too many texts, text too long",
    503: "Model not loaded yet, or shutting down", 504: "No answer within the server's timeout"}.items()}


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": ["great film", "dull"]}]})
    text: str | None = Field(None, description="One text; send exactly one of `text`, `texts` or `pairs`.")
    texts: list[str] | None = Field(None, description="Several texts, answered in order.")
    pairs: list[tuple[str, str]] | None = Field(None, description="(text, text_pair) pairs, for a pair model.")
    top_k: int | None = Field(None, ge=1, description="How many labels to list per text (default: server's).")


class LabelScore(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    """What the model's task answers; fields a task does not give are left out."""

    label: str | None = Field(None, description="Classification: the most probable label.")
    score: float | None = Field(None, description="Classification: the probability of `label`.")
    labels: list[str] | None = Field(None, description="Multi-label: the labels at or over their thresholds.")
    value: float | None = Field(None, description="Regression: the predicted value.")
    top_k: list[LabelScore] | None = Field(None, description="The most probable labels with their probabilities.")


class ModelRef(BaseModel):
    name: str
    version: str = Field(description="First 12 hex digits of the sha256 of the weights.")


class PredictResponse(BaseModel):
    model: ModelRef
    predictions: list[Prediction]
    latency_ms: float = Field(description="Time spent in the server, queueing and batching included.")


class RankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "my card was charged twice", "candidates": ["Refunds take 5 days.", "Reset your password."]}]})
    query: str
    candidates: list[str] = Field(description="Texts to order by how well each goes with the query.")
    top: int | None = Field(None, ge=1, description="How many to return (default: all).")


class RankedCandidate(BaseModel):
    index: int = Field(description="Position in the request's `candidates`.")
    candidate: str
    score: float = Field(description="Probability of the relevant class, or the predicted value.")


class RankResponse(BaseModel):
    model: ModelRef
    ranking: list[RankedCandidate]
    latency_ms: float


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    text_pair: str | None = Field(None, description="The second text, for a pair model.")
    target: str | None = Field(None, description="Label to explain; default the predicted one.")
    steps: int | None = Field(None, ge=1, le=200, description="Integration steps (default: server's).")
