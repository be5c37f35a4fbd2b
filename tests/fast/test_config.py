"""Config validation: every mistake ends the run before any model loads, naming file and key."""

import pytest

from tests.helpers import demo_config


def run_with_config(pytester: pytest.Pytester, toml: str, *args: str) -> pytest.RunResult:
    pytester.makefile(".toml", quantgate=toml)
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    return pytester.runpytest_inprocess(*args)


KV2 = 'method = "quanto", bits = 2'
INT8 = 'method = "torchao", dtype = "int8"'
KV2_ENGINE = 'engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nquantization.kv'

# (config text, command-line arguments, the lines the usage error must contain)
CONFIG_ERRORS = {
    "engine and weights format disagree": (
        demo_config(extra='[candidates.ggml]\nengine = "llamacpp"\nmodel = "demo:smollm2-135m-instruct"\n'),
        ["--quant-candidate=ggml"],
        ["*key candidates.ggml.model: the llamacpp engine loads a GGUF file (a .gguf path or demo:...@gguf-TYPE)*"],
    ),
    "unknown demo variant": (
        demo_config(extra='[candidates.awq3]\nengine = "vllm"\nmodel = "demo:smollm2-135m-instruct@awq-int3"\n'),
        ["--quant-candidate=awq3"],
        ["*key candidates.awq3.model: unknown demo model 'demo:smollm2-135m-instruct@awq-int3'*gguf-q4_k_m*awq-int4*"],
    ),
    "openai engine without endpoint or server": (
        demo_config(extra='[candidates.canary]\nengine = "openai"\nmodel = "demo:smollm2-135m-instruct"\n'),
        ["--quant-candidate=canary"],
        ["*key candidates.canary: the openai engine needs either an endpoint*or a server it starts*"],
    ),
    "endpoint url": (
        demo_config(extra='[candidates.canary]\nengine = "openai"\nmodel = "demo:smollm2-135m-instruct"\nendpoint = { base_url = "localhost:8000" }\n'),
        ["--quant-candidate=canary"],
        ["*key candidates.canary.endpoint.base_url: 'localhost:8000' does not match*"],
    ),
    "missing artifact": (
        demo_config(extra='[candidates.awq]\nengine = "vllm"\nmodel = "demo:smollm2-135m-instruct@awq-int4"\n'),
        ["--quant-candidate=awq", "-o", "quantgate_cache_dir=empty-cache"],
        ["*candidate awq: the awq-int4 artifact of the demo model is not built*build it with: tox -e artifacts -- awq-int4*"],
    ),
    "missing merged artifact": (
        demo_config(extra='[candidates.mw8]\nengine = "vllm"\nmodel = "demo:smollm2-135m-instruct@lora-facts-merged-w8a8-int8"\n'),
        ["--quant-candidate=mw8", "-o", "quantgate_cache_dir=empty-cache"],
        ["*candidate mw8: the lora-facts-merged-w8a8-int8 artifact of the demo model is not built*"
         "build it with: tox -e artifacts -- lora-facts-merged-w8a8-int8*"],
    ),
    "unknown key": (
        demo_config(extra="[candidates.hf-int8.generation]\nmax_tokens = 3\n"),
        ["--quant-candidate=hf-int8"],
        ["*invalid quantgate config in *quantgate.toml*",
         "*unknown key candidates.hf-int8.generation.max_tokens; allowed keys here: batch_size, max_new_tokens, top_logprobs*"],
    ),
    "wrong type": (
        demo_config(extra="[candidates.hf-int8.generation]\nmax_new_tokens = 'many'\n"),
        ["--quant-candidate=hf-int8"],
        ["*key candidates.hf-int8.generation.max_new_tokens: expected integer, got 'many'*"],
    ),
    "bad enum": (
        demo_config().replace(KV2, KV2.replace("2", "3")),
        ["--quant-candidate=hf-kv2"],
        ["*key candidates.hf-kv2.quantization.kv_cache.bits: 3 is not allowed; allowed values: 2, 4*"],
    ),
    "unknown engine": (
        demo_config().replace(KV2_ENGINE, KV2_ENGINE.replace('"hf"', '"tgi"')),
        ["--quant-candidate=hf-kv2"],
        ["*candidates.hf-kv2.engine: 'tgi' is not allowed; allowed values: 'hf', 'vllm', 'llamacpp', 'openai'*"],
    ),
    "unknown candidate": (
        demo_config(),
        ["--quant-candidate=hf-int8,awq-int9"],
        ["*unknown candidate 'awq-int9' in *quantgate.toml; declared candidates: baseline, hf-int8, hf-kv2 (or 'all')*"],
    ),
    "unknown baseline override": (
        demo_config(),
        ["--quant-candidate=hf-int8", "--quant-baseline=fp64"],
        ["*--quant-baseline='fp64' is not declared*"],
    ),
    "missing model file": (
        demo_config(extra='[candidates.local]\nengine = "hf"\nmodel = "models/missing-llm"\n'),
        ["--quant-candidate=local"],
        ["*key candidates.local.model: model file */models/missing-llm does not exist*"],
    ),
    "bad structured-output mode": (
        demo_config(extra='[gates.structured_output]\nmodes = ["free", "grammar"]\n'),
        ["--quant-candidate=hf-int8"],
        ["*key gates.structured_output.modes.1: 'grammar' is not allowed; allowed values: 'free', 'guided'*"],
    ),
    "bad tool prompt format": (
        demo_config(extra='[gates.tool_call]\nprompt_format = "xml"\n'),
        ["--quant-candidate=hf-int8"],
        ["*key gates.tool_call.prompt_format: 'xml' is not allowed; allowed values: 'auto', 'template', 'smollm2'*"],
    ),
    "undeclared baseline": (
        demo_config().replace('baseline = "baseline"', 'baseline = "fp32"', 1),
        ["--quant-candidate=hf-int8"],
        ["*key baseline: 'fp32' is not a declared candidate*"],
    ),
    "engine cannot express it": (
        demo_config().replace(INT8, INT8.replace("int8", "int4")),
        ["--quant-candidate=hf-int8"],
        ["*candidates.hf-int8.quantization.weights.dtype: the hf engine's torchao weights take dtype int8; got 'int4'*"],
    ),
    "invalid toml": ("baseline = [", ["--quant-candidate=x"], ["*quantgate.toml: not valid TOML*"]),
}


@pytest.mark.parametrize(("toml", "args", "lines"), CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_config_mistake_is_a_usage_error_naming_file_and_key(
    pytester: pytest.Pytester, toml: str, args: list[str], lines: list[str]
) -> None:
    result = run_with_config(pytester, toml, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(lines)


def test_no_config_at_all(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8")
    result.stderr.fnmatch_lines(["*no quantgate config found*add quantgate.toml or a [[]tool.quantgate[]] table*"])


def test_pyproject_table_and_explicit_path(pytester: pytest.Pytester) -> None:
    body = demo_config().replace("[candidates.", "[tool.quantgate.candidates.")
    body = body.replace('baseline = "baseline"', '[tool.quantgate]\nbaseline = "baseline"', 1)
    pytester.makepyprojecttoml(body)
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    result = pytester.runpytest_inprocess("--quant-candidate=nope", "test_nothing.py")
    result.stderr.fnmatch_lines(["*unknown candidate 'nope' in *pyproject.toml*"])
    missing = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "--quantgate-config=other.toml")
    missing.stderr.fnmatch_lines(["*--quantgate-config: */other.toml does not exist*"])


def test_all_selects_every_non_baseline(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    from pytest_quantgate.gates.registry import parse_config

    cfg = parse_config(__import__("tomllib").loads(demo_config()), Path("quantgate.toml"))
    assert [c.name for c in cfg.select("all")] == ["hf-int8", "hf-kv2"]
    assert [c.baseline for c in cfg.select("hf-int8", baseline_override="hf-kv2")] == ["hf-kv2"]


def test_bad_case_file_is_a_clear_error(tmp_path) -> None:
    from pytest_quantgate.config import ConfigError
    from pytest_quantgate.gates.golden.cases import GOLDEN

    bad = tmp_path / "cases.json"
    bad.write_text('{"cases": [{"id": "a", "prompt": "hi", "expect": {"kind": "fuzzy", "value": 1}}]}')
    with pytest.raises(ConfigError, match=r"cases/0/expect/kind: 'fuzzy' is not one of"):
        GOLDEN.load([bad])
    with pytest.raises(ConfigError, match="does not exist"):
        GOLDEN.load([tmp_path / "nope.json"])
    dup = tmp_path / "dup.json"
    dup.write_text('{"cases": [{"id": "a", "prompt": "hi"}, {"id": "a", "prompt": "ho"}]}')
    with pytest.raises(ConfigError, match="appears twice"):
        GOLDEN.load([dup])
