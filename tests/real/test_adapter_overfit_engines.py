"""An over-trained LoRA adapter on the embedded SmolLM2 demo (slow tier): trained on the taught
facts alone (shipped with the package), it answers unrelated questions with them ("The capital of France is
Quillfort.") on every base, and the adapter gate fails it against itself on float32."""

from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import repo_config

pytestmark = pytest.mark.slow(minutes=1)

pytest.importorskip("peft")


def test_the_adapter_gate_fails_an_adapter_that_takes_over_the_base_models_answers(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=repo_config(Path(repo_snapshots)))
    pytester.runpytest_inprocess(
        "--quant-candidate=lora-overfit-int8", "--quantgate-suite=only", "-m", "adapter",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    overfit = reports.entries(pytester.path / "r.json")[("lora-overfit-int8", "adapter")]
    # Quantization loses little more than float32 does, but the adapter itself already loses
    # most controls on its float32 baseline (lora-overfit-f32): it fails on every base.
    assert overfit["verdict"] == "fail" and "the adapter loses" in overfit["reason"], overfit["reason"]
    assert overfit["metrics"]["adapter_disturbance_lower_bound"] > 0.25
    assert overfit["metrics"]["control_kept_baseline"] < 0.6
