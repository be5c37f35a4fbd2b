"""bitsandbytes weights on the embedded SmolLM2 demo (slow tier): LLM.int8 and NF4 get drift
verdicts and NF4 a golden verdict from the committed float32 records, NF4 drifting further than
int8, and the report says which bitsandbytes code ran. (Golden on LLM.int8 is left out: on a CPU
without AVX-512 its int8 matmul is bitsandbytes' pure-PyTorch fallback, and greedy decoding 56
answers through it is minutes of CI that the drift gate's forward passes through the same
matmul already cover.)"""

from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import repo_config

pytestmark = pytest.mark.slow(minutes=2)

pytest.importorskip("bitsandbytes")


def test_bitsandbytes_int8_and_nf4_get_drift_and_golden_verdicts(pytester: pytest.Pytester, record_copy: Path) -> None:
    import torch

    pytester.makefile(".toml", quantgate=repo_config(record_copy, families=False))
    pytester.runpytest_inprocess(
        "--quant-candidate=hf-bnb8,hf-nf4", "--quantgate-suite=only", "-m", "golden or drift", "-k", "not (golden and hf-bnb8)",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    report = reports.entries(pytester.path / "r.json")
    assert ("hf-bnb8", "golden") not in report
    for name, gates in (("hf-bnb8", ("drift",)), ("hf-nf4", ("golden", "drift"))):
        for gate in gates:
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
