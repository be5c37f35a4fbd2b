"""Fixtures shared by both tiers (the repository's conftest.py sets the cache folder)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

TIERS = Path(__file__).resolve().parent

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: one torch thread each, else their spinning thread pools
    # fight (subprocesses the tests start inherit it).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test's folder says its tier: tests/fast/ loads no model, tests/real/ is marked slow."""
    misplaced = []
    for item in items:
        try:
            tier = item.path.resolve().relative_to(TIERS).parts[0]
        except ValueError:
            continue
        slow = item.get_closest_marker("slow") is not None
        if (tier == "fast" and slow) or (tier == "real" and not slow):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "tests/fast/ holds the fast tier and tests/real/ the slow one (marked slow); misplaced: " + ", ".join(misplaced)
        )
    # Longest files first (`slow(minutes=...)`, measured from empty caches on the 2-core AVX-512
    # machine; an AVX2-only one takes about twice as long): with
    # `--dist loadfile --no-loadscope-reorder` the two workers take files in this order, so the
    # long ones do not start last and leave one worker idle at the end.
    items.sort(key=lambda item: -_minutes(item))


def _minutes(item: pytest.Item) -> float:
    slow = item.get_closest_marker("slow")
    return float(slow.kwargs.get("minutes", 0)) if slow is not None else 0.0


@pytest.fixture(scope="session")
def plugin_stack() -> None:
    """Import, in this process, what a run of the plugin imports, before a pytester project
    runs in-process. pytester drops every module an in-process run imported when it ends,
    and compiled modules cannot be loaded twice in one process: a second `import torch`
    crashes the interpreter, numpy.fft raises "cannot load module more than once per
    process". Imported out here, they outlive every in-process run: the gates' runners and
    decisions (scipy.stats), what a bootstrap interval imports on first use (numpy.fft), the
    environment description that reports and records carry (it imports torch to name the
    accelerator), and hypothesis, which its pytest plugin imports at the end of every run
    (seconds each time)."""
    from pytest_quantgate import stats
    from pytest_quantgate.environment import describe
    from pytest_quantgate.gates import registry

    for gate in registry.gates().values():
        gate.load_runner()
    stats.bootstrap_mean_ci([0.0, 1.0])
    describe()
    with contextlib.suppress(ImportError):
        import hypothesis  # noqa: F401


XDIST_WORKER_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture(autouse=True)
def _plugin_stack_before_pytester(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test with a pytester project gets `plugin_stack` first. Run on an xdist worker,
    the project's pytest is a session of its own, not a worker: without the worker's
    variables (syrupy reads PYTEST_XDIST_WORKER and would leave out its report)."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("plugin_stack")
        for name in XDIST_WORKER_VARIABLES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def record_copy(tmp_path: Path, repo_snapshots: str) -> Path:
    """A copy of the committed baseline records, for a run that records more beside them
    (the committed ones stay untouched)."""
    import shutil

    folder = tmp_path / "records"
    shutil.copytree(repo_snapshots, folder)
    return folder
