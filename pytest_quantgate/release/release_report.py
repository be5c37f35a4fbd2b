"""The release report: the JSON report rendered for people, as Markdown and as one
self-contained HTML file (pictures inlined), so a reader who was not at the run can decide.

Verdicts per candidate and gate first; then per gate its reason, the metrics with baseline,
candidate, difference, interval and threshold, the cases that failed with both answers side
by side, and the gate's pictures.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import jinja2

from ..gates import registry

TEMPLATES = Path(__file__).parent / "templates"
MAX_CASES = 20  # failed cases shown per gate (the JSON report has every one)
TEXT_LIMIT = 400


@dataclass(frozen=True)
class MetricRow:
    name: str
    baseline: str
    candidate: str
    difference: str
    interval: str


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    problems: str
    baseline: str
    candidate: str


@dataclass(frozen=True)
class GateView:
    gate: str
    title: str
    mode: str | None
    verdict: str
    reason: str
    key_metric: str
    thresholds: str
    metrics: list[MetricRow]
    other: list[tuple[str, str]]
    shapes: list[dict[str, Any]]  # latency: one table per traffic shape
    tables: list[dict[str, Any]]  # nested metrics ({row: {column: value}}), e.g. per category
    cases: list[CaseRow]
    hidden_cases: int
    plots: list[Path] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def metric_rows(metrics: Mapping[str, Any]) -> tuple[list[MetricRow], list[tuple[str, str]]]:
    """Paired metrics (`baseline_X` / `candidate_X`, with `*_wilson` intervals) as rows; the
    rest of the scalar metrics as name/value pairs."""
    rows, used = [], set()
    for key, base in metrics.items():
        name = key.removeprefix("baseline_")
        if not key.startswith("baseline_") or key.endswith("_wilson") or f"candidate_{name}" not in metrics:
            continue
        cand = metrics[f"candidate_{name}"]
        diff = _fmt(cand - base) if isinstance(base, (int, float)) and isinstance(cand, (int, float)) else ""
        interval = metrics.get(f"candidate_{name}_wilson")
        rows.append(MetricRow(name, _fmt(base), _fmt(cand), diff, _fmt(interval) if interval else ""))
        used |= {key, f"candidate_{name}", f"baseline_{name}_wilson", f"candidate_{name}_wilson"}
    other = [
        (k, _fmt(v)) for k, v in metrics.items()
        if k not in used and v not in ("", None, [], {})
        and (isinstance(v, (int, float, str, bool)) or (isinstance(v, list) and len(v) <= 4))
    ]
    return rows, other


def metric_tables(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Metrics that are tables ({row: {column: scalar}}: per category, length, depth, ...),
    and decisions ({decision, reason, ...}) as one table of rules, instead of a run-on line."""
    tables = []
    for key, value in metrics.items():
        if key in ("shapes", "stop_behaviour") or not isinstance(value, Mapping) or not value:
            continue
        inner = list(value.values())
        if all(isinstance(v, Mapping) for v in inner):
            columns = list(dict.fromkeys(c for v in inner for c, x in v.items() if not isinstance(x, (Mapping, list))))
            if columns:
                rows = [[str(name), *(_fmt(v.get(c, "")) for c in columns)] for name, v in value.items()]
                tables.append({"title": key.replace("_", " "), "columns": ["", *columns], "rows": rows})
        elif all(not isinstance(v, (Mapping, list)) or (isinstance(v, list) and len(v) <= 4) for v in inner):
            tables.append({"title": key.replace("_", " "), "columns": ["", "value"], "rows": [[k, _fmt(v)] for k, v in value.items()]})
    return tables


def summary(candidate: Mapping[str, Any]) -> str:
    """One plain sentence a release manager can act on, leading the candidate's section."""
    gates = candidate.get("gates", [])

    def named(entry: Mapping[str, Any]) -> str:
        mode = (entry.get("metrics") or {}).get("mode")
        return entry["gate"] + (f" [{mode}]" if mode else "")

    by = {v: [named(e) + (f" ({e['key_metric']})" if e.get("key_metric") else "") for e in gates if e["verdict"] == v]
          for v in ("fail", "error", "underpowered")}
    passed = [named(e) for e in gates if e["verdict"] == "pass"]
    skipped = [named(e) for e in gates if e["verdict"] == "skipped"]
    parts = []
    if by["fail"] or by["error"]:
        parts.append("not safe to ship: " + "; ".join([f"{g} failed" for g in by["fail"]] + [f"{g} could not run" for g in by["error"]]))
    elif candidate.get("verdict") == "incomplete":
        parts.append("not decided: the run did not finish (" + ", ".join(e.get("gate") or e.get("test", "?") for e in candidate.get("not_run", [])) + " did not run)")
    elif by["underpowered"]:
        parts.append("not decided yet: " + "; ".join(f"{g} needs more cases" for g in by["underpowered"]))
    elif passed:
        parts.append("passes every gate that ran")
    else:
        parts.append("no gate decided")
    if passed and parts[0] != "passes every gate that ran":
        parts.append("within limits: " + ", ".join(passed))
    if skipped:
        parts.append("skipped here: " + ", ".join(skipped))
    return "; ".join(parts) + "."


def _latency_shapes(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    shapes = []
    for label, shape in (metrics.get("shapes") or {}).items():
        base, cand = shape["baseline"], shape["candidate"]
        rows = []
        for metric in ("ttft", "tpot", "itl", "e2el"):
            for stat in ("median", "p90", "p99"):
                b, c = base[metric][stat], cand[metric][stat]
                rows.append(MetricRow(f"{metric} {stat} (ms)", _fmt(b), _fmt(c), f"{c / b:.2f}x" if b else "", ""))
        for key in ("output_throughput", "request_throughput"):
            b, c = base[key], cand[key]
            rows.append(MetricRow(key, _fmt(b), _fmt(c), f"{c / b:.2f}x" if b else "", ""))
        rows.append(MetricRow("errors + timeouts", str(base["errors"] + base["timeouts"]),
                              str(cand["errors"] + cand["timeouts"]), "", f"of {cand['sent']}"))
        shapes.append({"label": label, "rows": rows})
    return shapes


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " ..."


def gate_view(entry: Mapping[str, Any]) -> GateView:
    metrics = entry.get("metrics") or {}
    rows, other = metric_rows(metrics)
    failed = [c for c in entry.get("cases", ()) if not c.get("passed", True)]
    cases = [
        CaseRow(c["case_id"], "; ".join(c.get("problems", ())), _clip(c.get("details", {}).get("baseline_text")),
                _clip(c.get("details", {}).get("candidate_text")))
        for c in failed[:MAX_CASES]
    ]
    mode = metrics.get("mode")
    test = str(entry.get("test", ""))
    own_test = test and not test.startswith("quantgate-suite/")  # a user's test: the terminal names it, so does the report
    title = entry["gate"] + (f" [{mode}]" if mode else "") + (f" ({test.rsplit('::', 1)[-1]})" if own_test else "")
    thresholds = ", ".join(f"{k}={_fmt(v)}" for k, v in (entry.get("thresholds") or {}).items())
    return GateView(
        gate=entry["gate"], title=title, mode=mode, verdict=entry["verdict"], reason=entry.get("reason", ""),
        key_metric=entry.get("key_metric", ""), thresholds=thresholds, metrics=rows, other=other,
        shapes=_latency_shapes(metrics) if entry["gate"] == "latency" else [],
        tables=metric_tables(metrics),
        cases=cases, hidden_cases=max(0, len(failed) - MAX_CASES),
        plots=[Path(p) for p in metrics.get("plots", ()) if Path(p).is_file()],
    )


def _gate_order(entry: Mapping[str, Any]) -> tuple[int, str]:
    order = registry.names()
    return (order.index(entry["gate"]) if entry["gate"] in order else len(order), entry.get("test", ""))


def context(report: Mapping[str, Any], manifests: Mapping[str, Path] | None = None) -> dict[str, Any]:
    candidates = []
    for c in report["candidates"]:
        gates = [gate_view(e) for e in sorted(c["gates"], key=_gate_order)]
        candidates.append({**c, "views": gates, "summary": summary(c), "manifest": (manifests or {}).get(c["name"])})
    columns = [g for g in registry.names() if any(v.gate == g for c in candidates for v in c["views"])]
    table = [
        {"name": c["name"], "baseline": c["baseline"], "verdict": c["verdict"],
         "summary": c["summary"],
         "cells": [", ".join(v.verdict + (f" [{v.mode}]" if v.mode else "") for v in c["views"] if v.gate == g) or "-"
                   for g in columns]}
        for c in candidates
    ]
    return {"report": report, "candidates": candidates, "columns": columns, "table": table, "env": report.get("environment", {})}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["data_uri"] = lambda path: "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()
    env.filters["md_cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    return env


def render_markdown(report: Mapping[str, Any], manifests: Mapping[str, Path] | None = None, relative_to: Path | None = None) -> str:
    ctx = context(report, manifests)
    ctx["relative"] = (lambda p: str(Path(p).relative_to(relative_to)) if relative_to and Path(p).is_relative_to(relative_to) else str(p))
    return _environment().get_template("report.md.j2").render(ctx)


def render_html(report: Mapping[str, Any], manifests: Mapping[str, Path] | None = None) -> str:
    return _environment().get_template("report.html.j2").render(context(report, manifests))


def write(report: Mapping[str, Any], json_path: Path, manifests: Mapping[str, Path] | None = None) -> tuple[Path, Path]:
    """REPORT.md and REPORT.html beside REPORT.json (each written atomically)."""
    from .. import atomic

    markdown, html = json_path.with_suffix(".md"), json_path.with_suffix(".html")
    atomic.write_text(markdown, render_markdown(report, manifests, json_path.parent))
    atomic.write_text(html, render_html(report, manifests))
    return markdown, html

