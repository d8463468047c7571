"""Alerts as text for a terminal: what fired, when, why, and the example texts with their strongest words."""

from __future__ import annotations

from typing import Any

from textsift.monitor.evidence import iso


def alert_text(alert: dict[str, Any]) -> str:
    """A few lines per alert (the form `textsift monitor alerts` prints)."""
    e = alert["evidence"]
    lines = [f"alert {alert['id']} [{alert['status']}] rule {alert['rule_id']}: {alert['rule']}",
             f"  fired {iso(alert['fired_ts'])} for window {e['window_start']} .. {e['window_end']}"
             + (f", source {e['source']}" if e.get("source") else ", all sources")]
    why = f"  {e['metric']}({e['label']}) = {e['value']:.3f} over {e['volume']} events"
    if e.get("baseline") is not None:
        why += (f"; baseline {e['baseline']:.3f}, sigma {e['sigma']:.3f}, z {e['z']:.2f}, "
                f"{e['detector']} statistic {e['statistic']:.2f}")
    lines.append(why)
    if alert.get("resolved_window_end_ts"):
        lines.append(f"  resolved: quiet again in the window ending {iso(alert['resolved_window_end_ts'])}")
    if (e.get("attributions") or {}).get("status") == "pending":
        lines.append("  word attributions: still being computed (run `monitor alerts` again shortly)")
    for x in e.get("examples", []):
        words = sorted(x.get("words") or [], key=lambda w: -abs(w[1]))[:4]
        strongest = ", ".join(f"{w} {s:+.2f}" for w, s in words)
        lines.append(f"  - [{x['score']:.2f}] {x['text'] or '(text not stored)'}"[:200]
                     + (f"  <- {strongest}" if strongest else ""))
    for d in alert.get("webhook", []):
        state = "delivered" if d["delivered"] else f"pending after {d['attempts']} tries ({d['last_error']})"
        lines.append(f"  webhook {d['status']}: {state}")
    return "\n".join(lines)
