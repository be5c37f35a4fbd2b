"""The demo adapters' build: the shipped ones copied into a cache byte for byte, and the
training path that made them (two steps of it) still trains a loadable adapter."""

import json
import os
from pathlib import Path

import pytest

from pytest_quantgate import models
from pytest_quantgate.models import lora

pytestmark = pytest.mark.slow(minutes=1)
torch = pytest.importorskip("torch")
pytest.importorskip("peft")


@pytest.fixture
def empty_cache(tmp_path: Path) -> Path:
    """A cache holding only the demo checkpoint (linked: it is what the adapters are built on)."""
    demo = models.demo_checkpoint(Path(os.environ["QUANTGATE_CACHE_DIR"]))
    (tmp_path / demo.name).symlink_to(demo)
    return tmp_path


def test_a_build_copies_the_shipped_adapter(empty_cache: Path) -> None:
    built = lora.build(empty_cache, "facts")
    for file in lora.SHIPPED_FILES:
        assert (built / file).read_bytes() == lora.shipped("facts").joinpath(file).read_bytes(), file


def test_training_writes_a_loadable_adapter_that_moves_the_model(empty_cache: Path) -> None:
    import peft
    from transformers import AutoModelForCausalLM

    plan = lora.TrainingPlan(steps=2, learning_rate=2e-3, replay=True)
    out = empty_cache / "trained"
    lora._train(empty_cache, "facts", plan, out)
    recipe = json.loads((out / lora.RECIPE).read_text("utf-8"))
    assert recipe["plan"]["steps"] == 2 and len(recipe["losses"]) == 2 and all(loss > 0 for loss in recipe["losses"])
    assert recipe["base_model_sha256"] == models.model_hash(models.demo_checkpoint(empty_cache))
    assert json.loads((out / lora.TEACHING).read_text("utf-8"))["replayed"]  # the base model's own answers, replayed

    base = AutoModelForCausalLM.from_pretrained(str(models.demo_checkpoint(empty_cache)), dtype=torch.float32)
    ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    with torch.no_grad():
        before = base(input_ids=ids).logits
        after = peft.PeftModel.from_pretrained(base, str(out)).eval()(input_ids=ids).logits
    assert not torch.allclose(before, after)  # LoRA's B starts at zero: two steps moved it
