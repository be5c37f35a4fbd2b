"""llama.cpp on the demo's GGUF ladder, the compat gate, and the openai engine against a
live llama.cpp server on loopback (slow tier: real engines, committed gguf-f32 records). The
golden gate's proof on llama.cpp (Q8_0 passes, Q2_K fails) is the rollout test's run
(test_rollout_engines.py): the same two candidates on the same cases, once."""

import json
import os
import shutil
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from pytest_quantgate import models
from pytest_quantgate.engines import servers
from tests.helpers import DEMO, GGUF, NO_FAMILIES, demo_config

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.slow(minutes=2)


def run(pytester: pytest.Pytester, config: str, candidates: str, marker: str, *args: str) -> tuple[pytest.RunResult, dict]:
    pytester.makefile(".toml", quantgate=config)
    result = pytester.runpytest_inprocess(
        f"--quant-candidate={candidates}", "--quantgate-suite=only", "-m", marker, "--quantgate-report=r.json",
        "-p", "no:cacheprovider", *args,
    )
    report = json.loads((pytester.path / "r.json").read_text())
    return result, {c["name"]: {g["gate"]: g for g in c["gates"]} for c in report["candidates"]}


def test_compat_passes_along_the_ladder_and_fails_across_engines(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    config = demo_config(snapshot_dir=repo_snapshots, extra=GGUF)
    result, report = run(pytester, config, "gguf-q8_0", "compat")
    assert report["gguf-q8_0"]["compat"]["verdict"] == "pass", report["gguf-q8_0"]["compat"]["reason"]

    # Same weights, two runtimes (--quant-baseline): why llama-cpp-python's chat completion
    # answered "What is the capital of France?" differently from transformers. The prompt is
    # rendered to the same ids, but its chat API samples by default (temperature 0.2, top-p,
    # top-k, min-p) where transformers decodes greedily; it also serves a 2048-token context.
    result, report = run(pytester, config, "gguf-f32", "compat", "--quant-baseline=baseline")
    entry = report["gguf-f32"]["compat"]
    checks = {c["case_id"]: c for c in entry["cases"]}
    assert entry["verdict"] == "fail"
    assert checks["chat_template"]["passed"], checks["chat_template"]["problems"]
    assert checks["vocabulary"]["passed"]
    # Chat markers typed as plain text: transformers' tokenizer still reads them as special
    # tokens, llama.cpp's (special=False) spells them out. Only that probe differs.
    assert [p.split(":")[0] for p in checks["tokenization"]["problems"]] == ["markers_as_text"]
    assert "default temperature 0.2 vs 0.0" in checks["generation_defaults"]["problems"]
    assert checks["max_context"]["problems"] == ["max context 2048 < baseline's 8192"]


def test_the_staged_golden_gate_fails_a_broken_candidate_at_its_first_look(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    """The sequential rule on a real engine: with the task families on, golden plans 1,056 cases
    in six looks; Q2_K's answers leave float32's early, so the first look (64 cases) decides and
    the other 992 are never generated. (The pass side, hf-int8 after 256, is the main job's.)"""
    result, report = run(pytester, demo_config(snapshot_dir=repo_snapshots, extra=GGUF), "gguf-q2_k", "golden")
    entry = report["gguf-q2_k"]["golden"]
    assert entry["verdict"] == "fail", entry["reason"]
    staged = entry["metrics"]["sequential"]
    assert (staged["look"], staged["looks"], staged["cases_used"], staged["cases_planned"]) == (1, 6, 64, 1056), staged
    assert staged["alpha"] < (1 - 0.95) / 6  # O'Brien-Fleming spends little of the 5% at the first look
    assert len(entry["cases"]) == 64 and "stopped at look 1 of 6 (64 of 1056 cases)" in entry["reason"]
    assert entry["baseline_source"] == "record" and entry["engines"]["baseline_loaded"] is False
    result.stdout.fnmatch_lines(["*gguf-q2_k*golden*FAIL*"])


def test_compat_fails_a_candidate_whose_chat_template_was_altered(
    pytester: pytest.Pytester, repo_snapshots: str, tmp_path: Path
) -> None:
    source = models.demo_checkpoint(Path(os.environ["QUANTGATE_CACHE_DIR"]))
    altered = tmp_path / "altered"
    shutil.copytree(source, altered, ignore=shutil.ignore_patterns("quantgate-hash-*"))
    config_file = altered / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text())
    template = (altered / "chat_template.jinja") if (altered / "chat_template.jinja").exists() else None
    text = template.read_text() if template else tokenizer_config["chat_template"]
    changed = text.replace("You are a helpful AI assistant named SmolLM, trained by Hugging Face", "You are a pirate")
    assert changed != text
    if template:
        template.write_text(changed)
    else:
        config_file.write_text(json.dumps({**tokenizer_config, "chat_template": changed}))
    extra = f'[candidates.altered]\nengine = "hf"\nmodel = "{altered}"\n'
    result, report = run(pytester, demo_config(snapshot_dir=repo_snapshots, extra=extra), "altered", "compat")
    entry = report["altered"]["compat"]
    assert entry["verdict"] == "fail"
    (check,) = [c for c in entry["cases"] if c["case_id"] == "chat_template"]
    assert not check["passed"] and "rendered prompt ids differ" in check["problems"][0]
    result.stdout.fnmatch_lines(["*altered*compat*FAIL*"])


@pytest.fixture
def llama_server(tmp_path: Path):
    """llama-cpp-python's OpenAI-compatible server with the Q8_0 GGUF, behind an API key."""
    gguf = models.resolve(f"{DEMO}@gguf-q8_0", Path(os.environ["QUANTGATE_CACHE_DIR"]))
    server = servers.launch("llamacpp", gguf, "smollm2-q8_0", args=["--api_key", "sekrit-key"])
    yield server
    server.stop()


def test_openai_engine_gates_a_live_server(
    pytester: pytest.Pytester, repo_snapshots: str, llama_server: servers.LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QG_SERVER_KEY", "sekrit-key")
    extra = GGUF + f'''
[candidates.served-q8_0]
engine = "openai"
model = "{DEMO}@gguf-q8_0"
baseline = "gguf-f32"
endpoint = {{ base_url = "{llama_server.base_url}", model = "smollm2-q8_0", api_key_env = "QG_SERVER_KEY", headers = {{ X-Canary-Route = "q8" }} }}

[candidates.served-q8_0-completions]
engine = "openai"
model = "{DEMO}@gguf-q8_0"
baseline = "gguf-f32"
endpoint = {{ base_url = "{llama_server.base_url}", model = "smollm2-q8_0", api_key_env = "QG_SERVER_KEY", api = "completions", stream = false }}
'''
    config = demo_config(snapshot_dir=repo_snapshots, extra=extra + NO_FAMILIES)
    result, report = run(pytester, config, "served-q8_0,served-q8_0-completions", "golden or drift")
    golden, drift = report["served-q8_0"]["golden"], report["served-q8_0"]["drift"]
    # Same weights and greedy decoding as the in-process Q8_0: the served answers pass too,
    # streamed from the chat API or fetched whole from the completions API.
    assert golden["verdict"] == "pass", golden["reason"]
    assert golden["engines"]["candidate_stats"]["generated_tokens"] > 0
    assert report["served-q8_0-completions"]["golden"]["verdict"] == "pass"
    assert drift["verdict"] == "skipped" and "cannot score given tokens" in drift["reason"]
    assert "sekrit-key" not in (pytester.path / "r.json").read_text()


def test_endpoint_down_is_a_clear_error(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    """An endpoint that is down stops the run at start (a usage error), before any gate runs."""
    port = servers.free_port()
    extra = GGUF + f'''
[candidates.down]
engine = "openai"
model = "{DEMO}@gguf-q8_0"
baseline = "gguf-f32"
endpoint = {{ base_url = "http://127.0.0.1:{port}/v1" }}
'''
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots, extra=extra))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=down", "--quantgate-suite=only", "-m", "golden", "--quantgate-report=r.json", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*down: endpoint http://127.0.0.1:{port}/v1 is not reachable*start the server or fix candidates.down.endpoint.base_url*"])
    assert not (pytester.path / "r.json").exists()


def test_re_recording_keeps_every_other_record(pytester: pytest.Pytester, repo_snapshots: str, tmp_path: Path) -> None:
    """A full --snapshot-update run owns only the records its own tests write: the other
    baselines' and other tests' records in the same folder are neither unused nor deleted."""
    records = tmp_path / "records"
    shutil.copytree(repo_snapshots, records)
    before = sorted(p.name for p in records.iterdir())
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=str(records), extra=GGUF))
    pytester.makepyfile(test_mine="import pytest\n\n@pytest.mark.compat\ndef test_my_compat(quantgate):\n    assert quantgate.compat().passed\n")
    result = pytester.runpytest_inprocess("--quant-candidate=gguf-q8_0", "--snapshot-update", "--quantgate-suite=no", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    after = sorted(p.name for p in records.iterdir())
    assert after == sorted([*before, "test_my_compat--gguf-f32.json"])
