"""PEFT adapters as llama.cpp LoRA GGUFs (models/lora_gguf.py) and the merged demo variants: on tiny hand-made tensors, the
converted adapter holds the same update as the merged path, in llama.cpp's row order, and
its facts read like a PEFT adapter's (the proof that llama.cpp serves it as transformers
does is tests/real/test_adapters_engines.py)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pytest_quantgate import models
from pytest_quantgate.config import ConfigError
from pytest_quantgate.errors import UsageError
from pytest_quantgate.gates.registry import parse_config
from pytest_quantgate.models import lora_gguf

gguf = pytest.importorskip("gguf")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

EMBED, HEADS, KV_HEADS, RANK = 8, 2, 1, 2  # head size 4: q has 8 rows, v 4


def write_base(path: Path, arch: str = "llama", tensors: tuple[str, ...] = ("attn_q", "attn_v")) -> Path:
    writer = gguf.GGUFWriter(path, arch=arch)
    writer.add_uint32(f"{arch}.attention.head_count", HEADS)
    writer.add_uint32(f"{arch}.attention.head_count_kv", KV_HEADS)
    rows = {"attn_q": EMBED, "attn_v": EMBED // HEADS * KV_HEADS}
    for name in tensors:
        writer.add_tensor(f"blk.0.{name}.weight", np.zeros((rows[name], EMBED), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_adapter(folder: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    prefix = "base_model.model.model.layers.0.self_attn"
    tensors = {
        f"{prefix}.q_proj.lora_A.weight": rng.normal(size=(RANK, EMBED)).astype(np.float32),
        f"{prefix}.q_proj.lora_B.weight": rng.normal(size=(EMBED, RANK)).astype(np.float32),
        f"{prefix}.v_proj.lora_A.weight": rng.normal(size=(RANK, EMBED)).astype(np.float32),
        f"{prefix}.v_proj.lora_B.weight": rng.normal(size=(EMBED // HEADS, RANK)).astype(np.float32),
    }
    folder.mkdir()
    safetensors_numpy.save_file(tensors, str(folder / "adapter_model.safetensors"))
    config = {"r": RANK, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": "tiny"}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return tensors


def tensors_of(path: Path) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.data).reshape([int(n) for n in reversed(t.shape)]) for t in gguf.GGUFReader(path).tensors}


def test_the_converted_adapter_holds_the_merged_update_in_llama_cpps_row_order(tmp_path: Path) -> None:
    peft = write_adapter(tmp_path / "lora")
    base = write_base(tmp_path / "base.gguf")
    converted = lora_gguf.convert(tmp_path / "lora", base, tmp_path / "cache")
    fields = gguf.GGUFReader(converted).fields
    assert fields["general.type"].contents() == "adapter" and fields["adapter.type"].contents() == "lora"
    assert fields["adapter.lora.alpha"].contents() == 4.0 and fields["general.architecture"].contents() == "llama"

    written = tensors_of(converted)
    assert sorted(written) == ["blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                               "blk.0.attn_v.weight.lora_a", "blk.0.attn_v.weight.lora_b"]
    merged = lora_gguf.deltas(tmp_path / "lora", HEADS, KV_HEADS)  # what the merged GGUF adds
    for tensor in ("blk.0.attn_q.weight", "blk.0.attn_v.weight"):
        update = 4 / RANK * written[f"{tensor}.lora_b"] @ written[f"{tensor}.lora_a"]
        np.testing.assert_allclose(update, merged[tensor], rtol=1e-5, atol=1e-6)
    # The query's rows are permuted for llama.cpp's RoPE (convert_hf_to_gguf's permute: within
    # each head, the two halves interleaved); the value projection's are not.
    q_b = peft["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    half = EMBED // HEADS // 2
    expected_rows = [h * 2 * half + j + s * half for h in range(HEADS) for j in range(half) for s in range(2)]
    np.testing.assert_array_equal(written["blk.0.attn_q.weight.lora_b"], q_b[expected_rows])
    np.testing.assert_array_equal(written["blk.0.attn_v.weight.lora_b"], peft["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"])

    stamp = converted.stat().st_mtime_ns
    assert lora_gguf.convert(tmp_path / "lora", base, tmp_path / "cache") == converted and converted.stat().st_mtime_ns == stamp


def test_a_gguf_adapters_facts_read_as_a_peft_adapters_and_name_what_llama_cpp_would_refuse(tmp_path: Path) -> None:
    write_adapter(tmp_path / "lora")
    base = write_base(tmp_path / "base.gguf")
    converted = lora_gguf.convert(tmp_path / "lora", base, tmp_path / "cache")
    facts = models.adapter_facts(converted, base, base)
    assert facts["target_modules"] == ["q_proj", "v_proj"] and facts["r"] == RANK and facts["lora_alpha"] == 4.0
    assert facts["dtype"] == "F32" and facts["missing_modules"] == [] and "base_mismatch" not in facts

    no_v = write_base(tmp_path / "no-v.gguf", tensors=("attn_q",))
    assert models.adapter_facts(converted, no_v, no_v)["missing_modules"] == ["v_proj"]
    other = write_base(tmp_path / "qwen.gguf", arch="qwen2")
    assert "adapter for architecture 'llama', served on 'qwen2'" in str(models.adapter_facts(converted, other, other)["base_mismatch"])
    # The PEFT folder served on a GGUF base: its modules are checked against the GGUF's tensors.
    assert models.adapter_facts(tmp_path / "lora", no_v, no_v)["missing_modules"] == ["v_proj"]

    with pytest.raises(UsageError, match="not a llama.cpp LoRA GGUF .*convert_lora_to_gguf.py"):
        models.adapter_facts(base, base, base)


def test_a_gguf_lora_is_taken_by_the_llamacpp_engine_only(tmp_path: Path) -> None:
    import tomllib

    write_base(tmp_path / "lora.gguf")

    def candidate(engine: str) -> str:
        text = (f'baseline = "base"\n[candidates.base]\nengine = "hf"\nmodel = "demo:smollm2-135m-instruct"\n'
                f'[candidates.c]\nengine = "{engine}"\nmodel = "demo:smollm2-135m-instruct@gguf-q8_0"\nadapter = "lora.gguf"\n')
        return parse_config(tomllib.loads(text), tmp_path / "quantgate.toml").candidates["c"].adapter

    assert candidate("llamacpp") == str(tmp_path / "lora.gguf")
    with pytest.raises(ConfigError, match=re.escape("lora.gguf is a GGUF LoRA, which only the llamacpp engine serves")):
        candidate("hf")


def test_merged_demo_variants_name_the_adapter_and_the_form_after_the_merge(tmp_path: Path) -> None:
    from pytest_quantgate.models import artifacts

    assert models.merged_variant("lora-facts-merged") == ("facts", "")
    assert models.merged_variant("lora-facts-merged-gguf-q8_0") == ("facts", "gguf-q8_0")
    assert models.merged_variant("lora-overfit-merged-w8a8-int8") == ("overfit", "w8a8-int8")
    assert models.merged_variant("gguf-q8_0") is None and models.merged_variant("awq-int4") is None
    assert {"lora-facts-merged-w8a8-int8", "lora-facts-merged-gguf-q4_k_m"} <= set(models.demo_variants())
    assert artifacts.artifact_dir(tmp_path, "w8a8-int8", "facts").name == "smollm2-135m-instruct-lora-facts-merged-w8a8-int8"
    # Built on demand: the merged checkpoint and GGUF; built beforehand: llm-compressor's artifacts.
    assert models.missing_artifact("demo:smollm2-135m-instruct@lora-facts-merged-gguf-q8_0", tmp_path) is None
    assert models.missing_artifact("demo:smollm2-135m-instruct@lora-facts-merged", tmp_path) is None
    assert "tox -e artifacts -- lora-facts-merged-awq-int4" in str(models.missing_artifact("demo:smollm2-135m-instruct@lora-facts-merged-awq-int4", tmp_path))
    with pytest.raises(SystemExit):
        artifacts.main(["lora-nope-merged-w8a8-int8", "--cache-dir", str(tmp_path)])
