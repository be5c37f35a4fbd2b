"""Config validation: every mistake ends the run before any model loads, naming file and key."""

import pytest

from tests.helpers import demo_config


def run_with_config(pytester: pytest.Pytester, toml: str, *args: str) -> pytest.RunResult:
    pytester.makefile(".toml", quantgate=toml)
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    return pytester.runpytest_inprocess(*args)


def test_unknown_key_names_file_key_and_allowed_keys(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, demo_config(extra="[candidates.hf-int8.generation]\nmax_tokens = 3\n"), "--quant-candidate=hf-int8")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*invalid quantgate config in *quantgate.toml*",
        "*unknown key candidates.hf-int8.generation.max_tokens; allowed keys here: batch_size, max_new_tokens, top_logprobs*",
    ])


def test_wrong_type_is_reported_with_key(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, demo_config(extra="[candidates.hf-int8.generation]\nmax_new_tokens = 'many'\n"), "--quant-candidate=hf-int8")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*key candidates.hf-int8.generation.max_new_tokens: expected integer, got 'many'*"])


def test_bad_enum_lists_allowed_values(pytester: pytest.Pytester) -> None:
    toml = demo_config().replace('method = "quanto", bits = 2', 'method = "quanto", bits = 3')
    result = run_with_config(pytester, toml, "--quant-candidate=hf-kv2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*key candidates.hf-kv2.quantization.kv_cache.bits: 3 is not allowed; allowed values: 2, 4*"])


def test_unknown_engine_lists_engines(pytester: pytest.Pytester) -> None:
    toml = demo_config().replace('engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nquantization.kv', 'engine = "tgi"\nmodel = "demo:smollm2-135m-instruct"\nquantization.kv')
    result = run_with_config(pytester, toml, "--quant-candidate=hf-kv2")
    result.stderr.fnmatch_lines(["*candidates.hf-kv2.engine: 'tgi' is not allowed; allowed values: 'hf'*"])


def test_unknown_candidate_on_command_line(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, demo_config(), "--quant-candidate=hf-int8,awq-int9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown candidate 'awq-int9' in *quantgate.toml; declared candidates: baseline, hf-int8, hf-kv2 (or 'all')*"])


def test_unknown_baseline_override(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, demo_config(), "--quant-candidate=hf-int8", "--quant-baseline=fp64")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--quant-baseline='fp64' is not declared*"])


def test_missing_model_file(pytester: pytest.Pytester) -> None:
    toml = demo_config(extra='[candidates.local]\nengine = "hf"\nmodel = "models/missing-llm"\n')
    result = run_with_config(pytester, toml, "--quant-candidate=local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*key candidates.local.model: model file */models/missing-llm does not exist*"])


def test_baseline_must_be_declared(pytester: pytest.Pytester) -> None:
    toml = demo_config().replace('baseline = "baseline"', 'baseline = "fp32"', 1)
    result = run_with_config(pytester, toml, "--quant-candidate=hf-int8")
    result.stderr.fnmatch_lines(["*key baseline: 'fp32' is not a declared candidate*"])


def test_engine_rejects_unsupported_combination(pytester: pytest.Pytester) -> None:
    toml = demo_config().replace('method = "torchao", dtype = "int8"', 'method = "torchao", dtype = "int4"')
    result = run_with_config(pytester, toml, "--quant-candidate=hf-int8")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*candidates.hf-int8.quantization.weights.dtype: the hf engine uses torchao for int8 only*"])


def test_invalid_toml(pytester: pytest.Pytester) -> None:
    result = run_with_config(pytester, "baseline = [", "--quant-candidate=x")
    result.stderr.fnmatch_lines(["*quantgate.toml: not valid TOML*"])


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

    from pytest_quantgate import config

    cfg = config.parse(__import__("tomllib").loads(demo_config()), Path("quantgate.toml"))
    assert [c.name for c in cfg.select("all")] == ["hf-int8", "hf-kv2"]
    assert [c.baseline for c in cfg.select("hf-int8", baseline_override="hf-kv2")] == ["hf-kv2"]


def test_bad_case_file_is_a_clear_error(tmp_path) -> None:
    from pytest_quantgate.cases import load_case_files
    from pytest_quantgate.config import ConfigError

    bad = tmp_path / "cases.json"
    bad.write_text('{"cases": [{"id": "a", "prompt": "hi", "expect": {"kind": "fuzzy", "value": 1}}]}')
    with pytest.raises(ConfigError, match=r"cases/0/expect/kind: 'fuzzy' is not one of"):
        load_case_files([bad])
    with pytest.raises(ConfigError, match="does not exist"):
        load_case_files([tmp_path / "nope.json"])
    dup = tmp_path / "dup.json"
    dup.write_text('{"cases": [{"id": "a", "prompt": "hi"}, {"id": "a", "prompt": "ho"}]}')
    with pytest.raises(ConfigError, match="appears twice"):
        load_case_files([dup])
