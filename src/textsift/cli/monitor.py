"""`textsift monitor init | ingest | replay | serve | rules | alerts | report`: watch a stream of texts
(flags: textsift.monitor.config)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from textsift.cli._options import ModelDir, configured
from textsift.monitor.config import (
    AlertsConfig,
    IngestConfig,
    MonitorReportConfig,
    MonitorServeConfig,
    ReplayConfig,
    StoreConfig,
    seconds,
)

app = typer.Typer(no_args_is_help=True, help="Monitor a stream of texts: store predictions, detect surges, alert.")
rules_app = typer.Typer(no_args_is_help=True, help="Alert rules: add, list, test, remove.")
app.add_typer(rules_app, name="rules")
EventsFile = Annotated[Path, typer.Argument(help="JSONL, CSV or TSV of events (id, ts, source, text); - for stdin.")]
RuleText = Annotated[str, typer.Argument(help='e.g. "share(negative) > baseline + 3 sigma over 1h, min 20".')]


@app.command("init")
@configured()
def init(cfg: StoreConfig) -> None:
    """Create the monitor's database (or bring it to the current schema version)."""
    from textsift.monitor.store import Store

    Store(cfg.db).close()
    typer.echo(f"monitor store ready at {cfg.db}")


@app.command("ingest")
@configured()
def ingest(model_dir: ModelDir, events: EventsFile, cfg: IngestConfig) -> None:
    """Score events with the model, store them and evaluate the rules on each closed window."""
    from textsift.monitor.ingest import ingest as run

    totals = run(model_dir, events, cfg)
    typer.echo(f"scored with {totals.model}")
    typer.echo(f"stored {totals.stored}, already stored {totals.duplicates}, alert changes {len(totals.alerts)}")


@app.command("replay")
@configured(skip=("follow", "workers", "poll_s"))
def replay(model_dir: ModelDir, events: EventsFile, cfg: ReplayConfig) -> None:
    """Replay a timestamped file as a live stream, --speed times faster than it happened."""
    from textsift.monitor.ingest import replay as run

    totals = run(model_dir, events, cfg)
    typer.echo(f"scored with {totals.model}")
    typer.echo(f"stored {totals.stored}, already stored {totals.duplicates}, alert changes {len(totals.alerts)}")


@app.command("serve")
@configured(skip=("follow", "workers", "poll_s", "deliver_timeout_s"))
def serve(model_dir: ModelDir, cfg: MonitorServeConfig) -> None:
    """Serve POST /v1/ingest and the live dashboard at /."""
    from textsift.monitor.dashboard import serve as run

    run(model_dir, cfg)


@rules_app.command("add")
@configured()
def rules_add(rule: RuleText, cfg: StoreConfig,
              webhook: Annotated[str | None, typer.Option(help="URL to POST the alert and its resolution to.")]
              = None) -> None:
    """Add a rule; it is evaluated from the first stored window on."""
    from textsift.monitor.alerting import add_rule
    from textsift.monitor.store import Store

    typer.echo(f"rule {add_rule(Store(cfg.db), rule, webhook)} added")


@rules_app.command("list")
@configured()
def rules_list(cfg: StoreConfig) -> None:
    """Show the rules, where each has got to and whether it is firing."""
    from textsift.monitor.alerting import stored_rules
    from textsift.monitor.evidence import iso
    from textsift.monitor.store import Store

    for r in stored_rules(Store(cfg.db, create=False)):
        until = iso(r.evaluated_until) if r.evaluated_until is not None else "not yet"
        firing = f"FIRING (alert {r.state.open_alert})" if r.state.open_alert is not None else "quiet"
        typer.echo(f"{r.id}\t{r.rule.text}\t{r.webhook or '-'}\tevaluated until {until}\t{firing}")


@rules_app.command("test")
@configured()
def rules_test(rule: RuleText, cfg: StoreConfig) -> None:
    """Run a rule over the stored history without recording anything; prints the windows where it fires."""
    from textsift.monitor.alerting import backtest
    from textsift.monitor.evidence import iso
    from textsift.monitor.store import Store

    decided = backtest(Store(cfg.db, create=False), rule)
    for window, s in decided:
        if s.fired:
            typer.echo(f"{iso(window.start)}\tfires\tvalue {s.value:.3f}\tstatistic {s.statistic:.2f}\tn {window.n}")
    typer.echo(f"{sum(s.fired for _, s in decided)} of {len(decided)} windows fire")


@rules_app.command("remove")
@configured()
def rules_remove(rule_id: Annotated[int, typer.Argument(help="Rule number from `rules list`.")],
                 cfg: StoreConfig) -> None:
    """Remove a rule and its alerts."""
    from textsift.monitor.alerting import remove_rule
    from textsift.monitor.store import Store

    remove_rule(Store(cfg.db, create=False), rule_id)
    typer.echo(f"rule {rule_id} removed")


@app.command("alerts")
@configured()
def alerts(cfg: AlertsConfig) -> None:
    """What fired, when and why, with the example texts behind it."""
    from textsift.monitor.queries import recent_alerts
    from textsift.monitor.render import alert_text
    from textsift.monitor.store import Store

    found = recent_alerts(Store(cfg.db, create=False), fired_after=time.time() - seconds(cfg.since))
    for alert in found:
        typer.echo(json.dumps(alert) if cfg.json else alert_text(alert))
    if not cfg.json:
        typer.echo(f"{len(found)} alert(s) in the last {cfg.since}")


@app.command("report")
@configured()
def report(cfg: MonitorReportConfig) -> None:
    """Write a static HTML page: shares over time, volume, alerts with their examples."""
    from textsift.monitor.report import write_report

    typer.echo(str(write_report(cfg)))
