"""Attributions shown to people: a red/green terminal line (Rich) and a standalone HTML heat-map (Jinja2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textsift import files
from textsift._optional import require
from textsift.explanation.attribution import Explanation

_GREEN, _RED = (22, 163, 74), (220, 38, 38)


def parts(explanation: Explanation) -> list[int]:
    """Which texts an explanation has: [0], or [0, 1] for a pair."""
    return [0] if explanation.text_pair is None else [0, 1]


def segments(explanation: Explanation, part: int = 0) -> list[dict[str, Any]]:
    """One of the texts (`part` 1 is a pair's second) cut into words and gaps, each word with its colour strength.

    `alpha` in [0, 1] is |score| relative to the largest |score| of the explanation; `positive` says which colour.
    Gaps (and any text past truncation) come with `score` None so the original text is rendered exactly.
    """
    scale = max((abs(s) for s in explanation.scores), default=0.0) or 1.0
    source = explanation.text if part == 0 else explanation.text_pair or ""
    which = explanation.segments or [0] * len(explanation.spans)
    out: list[dict[str, Any]] = []
    start = 0
    for (a, b), score, seg in zip(explanation.spans, explanation.scores, which, strict=True):
        if seg != part:
            continue
        if a > start:
            out.append({"text": source[start:a], "score": None})
        out.append({"text": source[a:b], "score": score, "alpha": abs(score) / scale, "positive": score >= 0})
        start = b
    if start < len(source):
        out.append({"text": source[start:], "score": None})
    return out


def css_background(segment: dict[str, Any]) -> str:
    """An rgba background: green pushes towards the explained class, red away from it."""
    if segment["score"] is None:
        return ""
    r, g, b = _GREEN if segment["positive"] else _RED
    return f"background: rgba({r}, {g}, {b}, {0.85 * segment['alpha']:.3f})"


def print_explanation(explanation: Explanation) -> None:
    """The text on the terminal with a red/green background per word, and a summary line."""
    from rich.console import Console
    from rich.text import Text

    console = Console()
    for part in parts(explanation):
        line = Text()
        for seg in segments(explanation, part):
            if seg["score"] is None or seg["alpha"] < 0.05:
                line.append(seg["text"])
                continue
            # Blend from white to the full colour so weak words stay readable with black text on any theme.
            base, a = (_GREEN if seg["positive"] else _RED), 0.25 + 0.75 * seg["alpha"]
            r, g, b = (round(255 + (c - 255) * a) for c in base)
            line.append(seg["text"], style=f"black on rgb({r},{g},{b})")
        console.print(line)
    console.print(f"[bold]{explanation.label}[/bold] score={explanation.probability:.3f}  "
                  f"(green pushes towards it, red away; {explanation.steps} steps, "
                  f"delta {explanation.delta:+.4f}, {explanation.seconds:.2f} s)")


def render_template(name: str, **context: Any) -> str:
    """Render one of the package's Jinja2 templates (autoescaped)."""
    jinja2 = require("jinja2", extra="explain")
    env = jinja2.Environment(loader=jinja2.PackageLoader("textsift", "templates"), autoescape=True)
    env.globals.update(segments=segments, parts=parts, css_background=css_background)
    return env.get_template(name).render(**context)


def write_html(explanations: list[Explanation], path: Path | str) -> Path:
    """A standalone HTML heat-map of the explanations (no scripts, no network)."""
    path = files.writable_file(path, "--html")
    return files.write_text(path, render_template("explain.html.j2", explanations=explanations))
