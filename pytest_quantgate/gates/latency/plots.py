"""PNG pictures of the latency gate, written next to the report: latency CDFs per traffic
shape and throughput/latency against concurrency, baseline and candidate on the same axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ... import atomic
from .decision import ShapeComparison
from .metrics import RequestSample

PANELS = (("ttft", "TTFT (ms)"), ("tpot", "TPOT (ms)"), ("itl", "ITL (ms)"), ("e2el", "E2E latency (ms)"))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> Path:
    """Rendered to a temporary file, then renamed: no half-written picture."""
    atomic.write_with(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    return path


def _values(samples: Sequence[RequestSample], metric: str) -> np.ndarray:
    if metric == "itl":
        values = [gap for s in samples for gap in s.itl]
    elif metric == "tpot":
        values = [s.tpot for s in samples if s.output_tokens > 1]
    else:
        values = [getattr(s, metric) for s in samples]
    return np.sort(np.asarray(values, dtype=float) * 1000)


def latency_cdfs(
    path: Path, names: tuple[str, str], samples: Mapping[str, tuple[Sequence[RequestSample], Sequence[RequestSample]]]
) -> Path:
    """One panel per metric; a line per (shape, model): baseline solid, candidate dashed."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (metric, title), axis in zip(PANELS, axes):
        for index, (shape, pair) in enumerate(samples.items()):
            for side, (name, style) in enumerate(zip(names, ("-", "--"))):
                values = _values(pair[side], metric)
                if values.size:
                    axis.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                              linestyle=style, color=colors[index % len(colors)], label=f"{name} {shape}")
        axis.set_xlabel(title)
        axis.set_ylabel("fraction of requests" if metric != "itl" else "fraction of gaps")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.suptitle(f"latency CDFs: {names[1]} (dashed) vs {names[0]} (solid)")
    try:
        return _save(figure, path)
    finally:
        plt.close(figure)


def throughput_curves(path: Path, names: tuple[str, str], comparisons: Sequence[ShapeComparison]) -> Path | None:
    """Output tokens/s and p90 TTFT against concurrency (closed-loop shapes only)."""
    points = [(int(c.shape.split("=")[1]), c) for c in comparisons if c.shape.startswith("concurrency=")]
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    levels = [level for level, _ in points]
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for name, side, style in ((names[0], "baseline", "o-"), (names[1], "candidate", "s--")):
        metrics = [getattr(c, side) for _, c in points]
        left.plot(levels, [m.output_throughput for m in metrics], style, label=name)
        right.plot(levels, [m.ttft.p90 for m in metrics], style, label=name)
    left.set(xlabel="concurrency (requests in flight)", ylabel="output tokens/s", title="throughput")
    right.set(xlabel="concurrency (requests in flight)", ylabel="TTFT p90 (ms)", title="time to first token")
    for axis in (left, right):
        axis.set_xticks(levels)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    try:
        return _save(figure, path)
    finally:
        plt.close(figure)
