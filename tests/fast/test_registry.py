"""The gate registry: one definition per gate feeds markers, config validation, the suite
and the report; a third-party gate joins through the entry point (fast tier)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from pytest_quantgate.config import CandidateSpec, ConfigError, schema_of
from pytest_quantgate.config.schema import CANDIDATE_SCHEMA
from pytest_quantgate.config.specs import Endpoint, GenerationSettings, Quantization
from pytest_quantgate.gates import registry
from pytest_quantgate.gates.registry import parse_config
from tests import reports
from tests.helpers import DATA

DECLARED = DATA / "declared_gate"


def test_every_builtin_gate_is_one_definition_with_its_settings_schema() -> None:
    gates = registry.gates()
    assert list(gates)[: len(registry.BUILTIN)] == list(registry.BUILTIN)
    for gate in gates.values():
        assert gate.help and callable(gate.load_runner())
        if gate.settings is not None:
            schema = schema_of(gate.settings)
            assert set(schema["properties"]) == {f.name for f in dataclasses.fields(gate.settings)}
            gate.settings()  # every setting has a default


def test_settings_without_a_schema_are_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Loose:
        margin: float = 0.1

    with pytest.raises(TypeError, match="Loose.margin has no schema"):
        schema_of(Loose)


def _keys(schema: dict) -> set[str]:
    return set(schema["properties"])


def test_the_candidate_schema_is_held_to_the_specs() -> None:
    """The candidate table is written out by hand: every key is a field and every field a key."""
    derived = {"name"}  # from the table's key, not a value in it
    assert _keys(CANDIDATE_SCHEMA) == {f.name for f in dataclasses.fields(CandidateSpec)} - derived
    props = CANDIDATE_SCHEMA["properties"]
    assert _keys(props["endpoint"]) == {f.name for f in dataclasses.fields(Endpoint)}
    assert _keys(props["generation"]) == {f.name for f in dataclasses.fields(GenerationSettings)}
    assert _keys(props["quantization"]) == {f.name for f in dataclasses.fields(Quantization)}
    for key, spec_field in (("weights", "WeightQuant"), ("activations", "ActivationQuant"), ("kv_cache", "KVCacheQuant")):
        from pytest_quantgate.config import specs

        assert _keys(props["quantization"]["properties"][key]) == {f.name for f in dataclasses.fields(getattr(specs, spec_field))}


def _table(**gates: dict) -> dict:
    return {
        "baseline": "base",
        "candidates": {"base": {"engine": "hf", "model": "demo:smollm2-135m-instruct"}},
        "gates": gates,
    }


def test_gate_tables_are_validated_and_built_from_the_registry(tmp_path: Path) -> None:
    config = parse_config(_table(golden={"margin": 0.05, "cases": ["a.json"]}), tmp_path / "q.toml")
    assert config.thresholds("golden").margin == 0.05
    assert config.thresholds("golden").cases == ("a.json",)
    assert config.thresholds("drift").top_k == 256  # an absent table: the defaults
    with pytest.raises(ConfigError, match=r"unknown key gates.golden.margins; allowed keys here: .*margin"):
        parse_config(_table(golden={"margins": 0.05}), tmp_path / "q.toml")
    with pytest.raises(ConfigError, match="unknown key gates.nope"):
        parse_config(_table(nope={}), tmp_path / "q.toml")
    with pytest.raises(ConfigError, match="gate 'nope' is not registered"):
        config.thresholds("nope")


def test_candidate_names_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    table = _table()
    table["candidates"]["../../evil"] = {"engine": "hf", "model": "demo:smollm2-135m-instruct"}
    with pytest.raises(ConfigError, match=r"key candidates: name '../../evil' is not allowed; names use letters"):
        parse_config(table, tmp_path / "q.toml")


@pytest.fixture
def declared_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with the example gate installed (its dist-info on the path, as pip would)."""
    site = pytester.path / "site"
    shutil.copytree(DECLARED, site)
    monkeypatch.setenv("PYTHONPATH", str(site), prepend=":")
    model = pytester.path / "tiny-model"
    model.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (model / name).write_text("{}")
    pytester.makefile(
        ".toml",
        quantgate="""
baseline = "base"

[candidates.base]
engine = "hf"
model = "tiny-model"

[candidates.vague]
engine = "hf"
model = "tiny-model"
description = "int8"

[candidates.clear]
engine = "hf"
model = "tiny-model"
description = "torchao int8 weights, dynamic activations"

[gates.declared]
min_words = 3
""",
    )
    return pytester


def test_a_gate_from_an_entry_point_is_a_marker_a_config_table_and_a_report_row(declared_project: pytest.Pytester) -> None:
    markers = declared_project.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.declared: quantgate gate: the candidate says what it is"])
    result = declared_project.runpytest_subprocess(
        "--quant-candidate=vague,clear", "--quantgate-suite=only", "-m", "declared", "--quantgate-report=r.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*quantgate verdicts*", "clear*declared*PASS*", "vague*declared*FAIL*1 word(s), 3 needed*"])
    rows = {
        name: [(g["gate"], g["verdict"], g["metrics"]) for g in c["gates"]]
        for name, c in reports.candidates(declared_project.path / "r.json").items()
    }
    assert rows == {"vague": [("declared", "fail", {"words": 1})], "clear": [("declared", "pass", {"words": 5})]}
    (declared_project.path / "quantgate.toml").write_text(
        (declared_project.path / "quantgate.toml").read_text().replace("min_words = 3", "min_word = 3")
    )
    bad = declared_project.runpytest_subprocess("--quant-candidate=clear", "-m", "declared")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*unknown key gates.declared.min_word; allowed keys here: min_words*"])
