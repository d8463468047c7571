"""Typed settings of the `textsift monitor` commands (the CLI derives their flags from these, as for the others).

They live beside the monitor rather than in textsift.config because the monitor is a product of its own with
seven subcommands; the conventions are the same: documented fields, checks in __post_init__.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textsift.config import check_finite
from textsift.errors import TextsiftError


@dataclass
class StoreConfig:
    """Where the monitor keeps its data.

    Attributes:
        db: Database URL: sqlite:///monitor.db (a local file in WAL mode) or postgresql://user:password@host/db.
    """

    db: str = "sqlite:///monitor.db"


@dataclass
class IngestConfig(StoreConfig):
    """How events are read, scored and stored.

    Attributes:
        source: Source of events that do not name their own.
        batch_size: Events per model pass and per database transaction.
        follow: Keep reading a growing JSONL file, like tail -f, until interrupted.
        store_text: Keep each event's text (needed for the example texts of alerts); --no-store-text keeps
            only its sha256.
        workers: Processes scoring events side by side, each with its own model copy and share of the CPU cores;
            every event belongs to one of them by the hash of its (source, id).
        lateness_s: A window is closed, and its rules evaluated, once the stream's event time has passed its end
            by this many seconds; later events are stored and shown but do not re-open an evaluated window.
        int8: Given a torch model folder, score with its int8 ONNX export (several times faster on CPU): one
            found beside the folder, else one exported once into the textsift cache (textsift.monitor.models);
            --no-int8 scores with the torch folder itself. An ONNX folder given as MODEL_DIR is always used as is.
        explain_model: Torch model folder for the word attributions of alert examples; default the folder an
            ONNX model was exported from, when it is still there.
        explain_steps: Integration steps per example attribution.
        examples: Example texts per alert.
        deliver_timeout_s: At the end of a finite input, how long to keep trying pending webhooks before exiting
            (what is left is sent by the next monitor process).
        poll_s: With --follow, how often to look for new lines; a partial batch is stored after one quiet poll.
    """

    source: str = "default"
    batch_size: int = 256
    follow: bool = False
    store_text: bool = True
    workers: int = 1
    lateness_s: float = 60.0
    int8: bool = True
    explain_model: Path | None = None
    explain_steps: int = 16
    examples: int = 3
    deliver_timeout_s: float = 10.0
    poll_s: float = 0.5

    def __post_init__(self) -> None:
        check_finite(self)
        for name in ("batch_size", "workers", "explain_steps"):
            if getattr(self, name) < 1:
                raise TextsiftError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.examples < 0 or self.lateness_s < 0 or self.deliver_timeout_s < 0 or self.poll_s <= 0:
            raise TextsiftError("examples, lateness_s and deliver_timeout_s must be >= 0 and poll_s > 0")
        if not self.source.strip():
            raise TextsiftError("source must not be empty")


@dataclass
class ReplayConfig(IngestConfig):
    """How a timestamped file is replayed as a live stream.

    Attributes:
        speed: Event-time seconds per wall-clock second (3600: an hour of the stream per second); 0 replays as
            fast as the model goes.
    """

    speed: float = 3600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.speed < 0:
            raise TextsiftError(f"speed must be >= 0, not {self.speed}")


@dataclass
class MonitorServeConfig(IngestConfig):
    """How `textsift monitor serve` runs: POST /v1/ingest, the dashboard at /.

    Attributes:
        host: Interface to bind; the default keeps the server on loopback.
        port: TCP port to listen on.
        max_events: Most events in one POST /v1/ingest (422 beyond).
        refresh_s: How often the dashboard reloads its charts and alerts.
    """

    host: str = "127.0.0.1"
    port: int = 8001
    max_events: int = 1000
    refresh_s: float = 5.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.port <= 65535:
            raise TextsiftError(f"port must be in 0..65535, not {self.port}")
        if self.max_events < 1 or self.refresh_s <= 0:
            raise TextsiftError("max_events must be at least 1 and refresh_s > 0")


@dataclass
class AlertsConfig(StoreConfig):
    """Which alerts to show.

    Attributes:
        since: Alerts fired (wall-clock time) this recently: 30m, 24h, 7d …
        json: One JSON object per alert instead of the readable form.
    """

    since: str = "24h"
    json: bool = False


@dataclass
class MonitorReportConfig(StoreConfig):
    """The static monitoring report.

    Attributes:
        since: How much of the stream the report shows, counted back from its latest event: 24h, 7d …
        out: The HTML file to write (the charts are embedded).
        source: Only this source; default all of them together.
    """

    since: str = "7d"
    out: Path = Path("monitor-report.html")
    source: str | None = None


def seconds(duration: str) -> int:
    """'30m', '24h', '7d' … in seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = duration.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) == 0:
        raise TextsiftError(f"{duration!r} is not a duration like 30m, 24h or 7d")
    return int(text[:-1]) * units[text[-1]]
