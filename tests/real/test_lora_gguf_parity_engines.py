"""The demo adapter as a llama.cpp LoRA GGUF, against llama.cpp's own converter
(convert_lora_to_gguf.py from the llama.cpp the installed llama-cpp-python vendors) run on the
same adapter and base config (slow tier: the sdist is fetched once, about a minute)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.references import llama_cpp_tree

pytestmark = pytest.mark.slow

gguf = pytest.importorskip("gguf")
pytest.importorskip("llama_cpp")
pytest.importorskip("peft")


def test_the_converted_demo_adapter_is_what_llama_cpps_converter_writes(tmp_path: Path) -> None:
    from pytest_quantgate import models
    from pytest_quantgate.models import DEMO_STEM, demo_gguf, gguf_ladder, lora, lora_gguf

    cache = models.default_cache_dir()
    adapter = lora.build(cache, "facts")
    base = gguf_ladder.build(demo_gguf(), cache, DEMO_STEM, "q8_0")
    ours = lora_gguf.convert(adapter, base, tmp_path / "cache")

    tree = llama_cpp_tree(cache)
    reference = tmp_path / "reference.gguf"
    done = subprocess.run(
        [sys.executable, "convert_lora_to_gguf.py", "--outtype", "f32", "--base", str(models.demo_checkpoint(cache)),
         "--outfile", str(reference), str(adapter)],
        cwd=tree, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    theirs, mine = gguf.GGUFReader(reference), gguf.GGUFReader(ours)
    # Every tensor byte for byte: 30 layers x (q, v) x (A, B), the query's B rows permuted for
    # llama.cpp's RoPE with the demo's 9 query heads.
    assert len(theirs.tensors) == len(mine.tensors) == 30 * 2 * 2
    by_name = {t.name: t for t in mine.tensors}
    for tensor in theirs.tensors:
        assert tensor.tensor_type == by_name[tensor.name].tensor_type
        np.testing.assert_array_equal(np.asarray(tensor.data), np.asarray(by_name[tensor.name].data), err_msg=tensor.name)
    # The metadata llama.cpp's adapter loader reads, equal. The rest is description, which the
    # converter guesses from folder names (general.name "Smollm2 135m Instruct Lora Facts",
    # finetune, size label, tags, the base model's name and a hub URL made from the --base
    # path); ours names the adapter folder and the base its adapter_config.json declares.
    read = ("general.architecture", "general.type", "adapter.type", "adapter.lora.alpha", "general.quantization_version")
    assert {k: theirs.fields[k].contents() for k in read} == {k: mine.fields[k].contents() for k in read}
    assert mine.fields["general.base_model.0.name"].contents() == "demo:smollm2-135m-instruct"
