"""`python -m pytest_quantgate init`: the files it writes are valid as written (config, case
file, test), nothing is overwritten without --force, and the next steps are printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantgate import __main__ as cli
from pytest_quantgate import scaffold
from pytest_quantgate.gates.golden.cases import GOLDEN
from pytest_quantgate.gates.registry import load_config


@pytest.mark.parametrize(("model", "candidates"), [("./my-model", {"baseline", "hf-int8", "hf-kv4"}), ("./my-model-f16.gguf", {"baseline", "gguf-q8_0", "gguf-q4_k_m"})])
def test_init_writes_a_valid_project_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, candidates: set[str]) -> None:
    if model.endswith(".gguf"):  # the baseline file and the quantized ones the config names
        for name in ("my-model-f16.gguf", "my-model-f16-Q8_0.gguf", "my-model-f16-Q4_K_M.gguf"):
            (tmp_path / name).write_bytes(b"GGUF")
    else:  # the files a checkpoint has (never loaded here)
        (tmp_path / "my-model").mkdir()
        for name, text in (("config.json", '{"model_type": "llama"}'), ("tokenizer.json", "{}"), ("model.safetensors", "{}")):
            (tmp_path / "my-model" / name).write_text(text)
    assert cli.main(["init", "--model", model, "--dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    first = "gguf-q8_0" if model.endswith(".gguf") else "hf-int8"
    assert f"pytest --quant-candidate={first} --snapshot-update" in printed
    assert f"pytest --quant-candidate={first} --quantgate-report=reports/{first}.json" in printed
    config = load_config(tmp_path)  # validated like any config: every key known, every gate setting typed
    assert set(config.candidates) == candidates and config.baseline == "baseline"
    assert config.thresholds("golden").cases == (scaffold.CASES,)
    cases = GOLDEN.load([tmp_path / scaffold.CASES])
    assert cases and all(c.must_hold for c in cases)
    assert GOLDEN.collect(True, [scaffold.CASES], tmp_path)  # beside the built-in cases: no id collides
    compile((tmp_path / scaffold.TEST).read_text(), scaffold.TEST, "exec")

    (tmp_path / scaffold.CASES).write_text('{"cases": []}')  # the user's edits ...
    assert cli.main(["init", "--model", model, "--dir", str(tmp_path)]) == 2
    refused = capsys.readouterr().err
    assert "already exist" in refused and "nothing was written" in refused and "--force" in refused
    assert (tmp_path / scaffold.CASES).read_text() == '{"cases": []}'  # ... are kept
    assert cli.main(["init", "--model", model, "--dir", str(tmp_path), "--force"]) == 0
    assert GOLDEN.load([tmp_path / scaffold.CASES])


def test_the_command_line_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    listing = capsys.readouterr().err
    assert all(name in listing for name in ("init", "matrix", "manifest", "power", "artifacts"))
