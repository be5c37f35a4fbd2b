"""bitsandbytes weights and LoRA adapters on the embedded SmolLM2 demo (slow tier): LLM.int8
and NF4 get honest golden and drift verdicts; the demo adapter, trained here once, keeps its
taught facts on an int8 base and passes the adapter gate there, while an over-trained adapter
(which disturbs unrelated answers) and the adapter over a 2-bit KV cache fail it; the compat
gate fails an adapter served on another base."""

import json
import shutil
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import REPO

pytestmark = pytest.mark.slow

pytest.importorskip("peft")
pytest.importorskip("bitsandbytes")


def repo_config(snapshot_dir: Path, extra: str = "") -> str:
    """The repository's quantgate.toml (its bitsandbytes and adapter candidates), reading and
    writing records in `snapshot_dir`."""
    return f'snapshot_dir = "{snapshot_dir}"\n' + (REPO / "quantgate.toml").read_text() + extra


@pytest.fixture()
def records(tmp_path: Path, repo_snapshots: str) -> Path:
    """A copy of the committed records: the float32 baseline's answers are reused, the adapter
    baseline's are recorded here."""
    folder = tmp_path / "records"
    shutil.copytree(repo_snapshots, folder)
    return folder


def test_bitsandbytes_int8_and_nf4_get_golden_and_drift_verdicts(pytester: pytest.Pytester, records: Path) -> None:
    import torch

    pytester.makefile(".toml", quantgate=repo_config(records))
    pytester.runpytest_inprocess(
        "--quant-candidate=hf-bnb8,hf-nf4", "--quantgate-suite=only", "-m", "golden or drift",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    report = reports.entries(pytester.path / "r.json")
    for name in ("hf-bnb8", "hf-nf4"):
        for gate in ("golden", "drift"):
            entry = report[(name, gate)]
            assert entry["verdict"] in ("pass", "fail", "underpowered"), (name, gate, entry["reason"])
            assert entry["baseline_source"] == "record"
        backend = report[(name, "drift")]["engines"]["candidate_runtime"]["bitsandbytes"]
        assert backend["version"] and backend["device"] == "CPU"
        assert backend["int8_matmul"] == ("torch._int_mm" if torch.backends.cpu.get_cpu_capability() == "AVX512" else "pure PyTorch fallback (no AVX-512)")
    kld = {name: report[(name, "drift")]["metrics"]["mean_kld"] for name in ("hf-bnb8", "hf-nf4")}
    assert 0 < kld["hf-bnb8"] < kld["hf-nf4"], kld  # 4 bits drift further than 8
    weights = {n: report[(n, "drift")]["engines"]["candidate_runtime"]["weights_bytes"] for n in ("hf-bnb8", "hf-nf4")}
    assert weights["hf-nf4"] < weights["hf-bnb8"] < 540_000_000, weights  # float32: 538 MB


def test_the_adapter_gate_passes_lora_int8_and_fails_broken_adapters(pytester: pytest.Pytester, records: Path) -> None:
    pytester.makefile(".toml", quantgate=repo_config(records))
    pytester.runpytest_inprocess(
        "--quant-candidate=lora-int8,lora-overfit-int8,lora-kv2", "--quantgate-suite=only", "-m", "adapter or compat",
        "--snapshot-update", "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    report = reports.entries(pytester.path / "r.json")
    fine = report[("lora-int8", "adapter")]
    assert fine["verdict"] == "pass", fine["reason"]
    assert fine["metrics"]["control_kept_baseline"] >= 0.75  # the adapter bleeds into a few look-alike questions
    assert fine["metrics"]["paraphrase_kept_baseline"] >= 0.4  # the adapter generalises beyond its phrasings
    assert report[("lora-int8", "compat")]["verdict"] == "pass", report[("lora-int8", "compat")]["reason"]

    # The over-trained adapter against itself on float32: quantization loses little more, but
    # the adapter has taken over the base model's answers on every base.
    overfit = report[("lora-overfit-int8", "adapter")]
    assert overfit["verdict"] == "fail" and "the adapter loses" in overfit["reason"], overfit["reason"]
    assert overfit["metrics"]["adapter_disturbance_lower_bound"] > 0.25
    assert overfit["metrics"]["control_kept_baseline"] < 0.6

    kv2 = report[("lora-kv2", "adapter")]
    assert kv2["verdict"] == "fail", kv2["reason"]


def test_compat_fails_an_adapter_served_on_another_base(pytester: pytest.Pytester, records: Path) -> None:
    """The demo adapter on the weights it was merged into: not the base it was trained on
    (the recipe's content hash says so, whatever path peft wrote)."""
    wrong = '\n[candidates.lora-wrong-base]\nengine = "hf"\nmodel = "demo:smollm2-135m-instruct@lora-overfit-merged"\nadapter = "demo:lora-facts"\nbaseline = "lora-f32"\n'
    pytester.makefile(".toml", quantgate=repo_config(records, wrong))
    pytester.runpytest_inprocess(
        "--quant-candidate=lora-wrong-base", "--quantgate-suite=only", "-m", "compat",
        "--snapshot-update", "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    compat = reports.entries(pytester.path / "r.json")[("lora-wrong-base", "compat")]
    assert compat["verdict"] == "fail" and "adapter trained on weights" in compat["reason"]
    recipe = json.loads((Path(compat["engines"]["candidate_runtime"]["adapter"]["path"]) / "quantgate-adapter.json").read_text())
    assert recipe["plan"]["r"] == 8 and recipe["base_model"] == "demo:smollm2-135m-instruct"
