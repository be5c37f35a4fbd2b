"""A rollout run as CI runs it (slow tier): two demo candidates on two xdist workers give one
merged JSON report, a manifest per candidate and the release report; the HTML opens in
headless Chromium and shows the verdict table; the manifest's rollback command carries the
baseline's flags."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import reports
from tests.helpers import GGUF, NO_FAMILIES, REPO, demo_config

pytestmark = pytest.mark.slow(minutes=2)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASS_CELL, FAIL_CELL = (217, 242, 217), (248, 208, 208)  # the report's pass / fail cell colours


def test_two_workers_one_merged_report_manifests_and_html(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots, extra=GGUF + NO_FAMILIES))
    result = pytester.runpytest_subprocess(
        "--quant-candidate=gguf-q8_0,gguf-q2_k", "--quantgate-suite=only", "-m", "golden or compat",
        "-n", "2", "--dist", "loadgroup", "--quantgate-report=out/run.json", "-p", "no:cacheprovider",
    )
    out = pytester.path / "out"
    report = reports.read(out / "run.json")
    gates = reports.by_candidate(report)
    # Both workers' verdicts in one report: Q8_0 passes, Q2_K fails golden (the golden gate's proof
    # on llama.cpp: the built-in cases alone, Q8_0 needs 512 of them staged over the families).
    assert set(gates) == {"gguf-q8_0", "gguf-q2_k"} and all(set(g) == {"golden", "compat"} for g in gates.values())
    q8, q2 = gates["gguf-q8_0"]["golden"], gates["gguf-q2_k"]["golden"]
    assert q8["verdict"] == "pass" and q2["verdict"] == "fail", (q8["reason"], q2["reason"])
    result.stdout.fnmatch_lines(["*gguf-q2_k*golden*FAIL*", "*gguf-q8_0*golden*PASS*"])
    # Shares, not counts, compare (the staged rule can stop the two at different looks).
    lost = {name: e["metrics"]["flips_pass_to_fail"] / e["metrics"]["cases"] for name, e in (("q8", q8), ("q2", q2))}
    assert lost["q2"] > lost["q8"], lost
    assert q8["baseline"] == q2["baseline"] == "gguf-f32"
    for name, entries in gates.items():
        for entry in entries.values():
            acquired = entry["engines"]["acquired_this_session"]
            assert acquired.count(name) == 1, acquired  # loaded once on its worker, never twice
            assert entry["baseline_source"] == "record" and "gguf-f32" not in acquired

    manifests = {name: json.loads((out / f"run-{name}-manifest.json").read_text()) for name in gates}
    for name, data in manifests.items():
        assert data["verdict"] == reports.candidates(report)[name]["verdict"]
        assert data["rollback"]["name"] == "gguf-f32" and data["rollback"]["artifact"]["path"].endswith(".F32.gguf")
        assert data["candidate"]["artifact"]["model_sha256"] != data["rollback"]["artifact"]["model_sha256"]
        assert data["rollback"]["serve"]["argv"][:3] == ["python", "-m", "llama_cpp.server"]
    assert manifests["gguf-q2_k"]["candidate"]["artifact"]["path"].endswith(".Q2_K.gguf")
    for name, entry in reports.candidates(report).items():  # the weights each verdict is about, in the header
        artifacts = manifests[name]
        assert entry["model_sha256"] == {
            "candidate": artifacts["candidate"]["artifact"]["model_sha256"],
            "baseline": artifacts["rollback"]["artifact"]["model_sha256"],
        }

    markdown = (out / "run.md").read_text()
    assert "| gguf-q8_0 | gguf-f32 | **PASS** | pass | pass |" in markdown.splitlines()
    html = out / "run.html"
    assert "gguf-q2_k" in html.read_text()
    q8_hash = reports.candidates(report)["gguf-q8_0"]["model_sha256"]["candidate"]
    assert f"model sha256 `{q8_hash[:16]}`" in markdown and f'title="{q8_hash}"' in html.read_text()
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium): the screenshot check did not run")
    shot = pytester.path / "shot.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
         f"--screenshot={shot}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    import matplotlib.image

    pixels = (matplotlib.image.imread(str(shot))[:, :, :3] * 255).round().astype(int)
    top = pixels[:400]  # the verdict table is at the top of the page

    def count(colour: tuple[int, int, int]) -> int:
        return int(np.all(np.abs(top - np.array(colour)) <= 2, axis=-1).sum())

    assert count(PASS_CELL) > 500 and count(FAIL_CELL) > 500, (count(PASS_CELL), count(FAIL_CELL))


def test_the_rollback_command_serves_the_baseline_with_its_own_flags(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    import httpx

    from pytest_quantgate import models
    from pytest_quantgate.gates import registry
    from pytest_quantgate.engines import servers
    from pytest_quantgate.release import manifest

    cfg = registry.load_config(REPO)
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    spec, baseline = cfg.candidates["gguf-f32-kvq8_0"], cfg.candidates["gguf-f32"]
    entry = {"name": spec.name, "verdict": "pass", "gates": []}
    path = manifest.write_all({"candidates": [entry], "environment": {}}, {spec.name: spec}, {spec.name: baseline},
                              cache, tmp_path / "r.json")[spec.name]

    def command(*args: str) -> list[str]:
        cli = [sys.executable, "-m", "pytest_quantgate.release.manifest", str(path), *args]
        return shlex.split(subprocess.run(cli, check=True, capture_output=True, text=True).stdout)

    port = servers.free_port()
    candidate, rollback = command(), command("--rollback", "--port", str(port))
    assert "--type_k" in candidate and "--flash_attn" in candidate  # the candidate's quantized KV cache ...
    assert "--type_k" not in rollback and "--flash_attn" not in rollback  # ... is not in its rollback
    assert rollback[:3] == ["python", "-m", "llama_cpp.server"]
    assert rollback[rollback.index("--model") + 1] == str(models.resolve(baseline.model, cache))
    # The printed command serves the baseline again.
    server = servers.LocalServer("llamacpp", [sys.executable, *rollback[1:]], port, tmp_path / "server.log").start()
    try:
        served = httpx.get(f"{server.base_url}/models", timeout=10).json()["data"]
        assert [m["id"] for m in served] == ["gguf-f32"]
    finally:
        server.stop()
