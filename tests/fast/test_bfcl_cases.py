"""BFCL's cases as tool_call cases (gates/tool_call/bfcl.py): the conversion on a small data
folder written here in BFCL's format, the settings that pick and sample categories, the error
without the bfcl-eval package, and the gate run through the harness on engine doubles."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import pytest

from pytest_quantgate.config import ConfigError
from pytest_quantgate.gates.tool_call import bfcl, runner
from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS, ExpectedCall, ItemsPattern, ObjectPattern, ToolCase
from pytest_quantgate.gates.tool_call.thresholds import ToolCallThresholds
from tests import reports
from tests.engine_double import CONFTEST

TRIANGLE = {
    "name": "geometry.area",
    "description": "Area of a triangle.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "float", "description": "Base."},
            "sides": {"type": "tuple", "items": {"type": "integer"}, "description": "Sides."},
            "unit": {"type": "string", "enum": ["cm", "m"], "description": "Unit."},
            "label": {"type": "any", "description": "Label."},
            "style": {"type": "dict", "properties": {"color": {"type": "string"}, "width": {"type": "integer"}}, "description": "Style."},
            "marks": {"type": "array", "items": {"type": "dict", "properties": {"at": {"type": "float"}}}, "description": "Marks."},
        },
        "required": ["base"],
    },
}
SIMPLE = [
    {"id": "simple_python_0", "question": [[{"role": "user", "content": "Area of a triangle with base 10 cm?"}]], "function": [TRIANGLE]},
    {
        "id": "simple_python_1",
        "question": [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Base 3, in metres."}]],
        "function": [TRIANGLE],
    },
    {"id": "simple_python_2", "question": [[{"role": "user", "content": "Base 4 in inches."}]], "function": [TRIANGLE]},
    {"id": "simple_python_3", "question": [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "?"}, {"role": "user", "content": "Base 1"}]], "function": [TRIANGLE]},
    {"id": "simple_python_4", "question": [[{"role": "user", "content": "Label it"}]], "function": [TRIANGLE]},
]
ANSWERS = [
    {
        "id": "simple_python_0",
        "ground_truth": [
            {
                "geometry.area": {
                    "base": [10.0, 10],
                    "unit": ["cm", "", "centimetres"],  # an alternative outside the enum: pruned
                    "style": ["", {"color": ["red", "Red"], "width": [2, ""]}],
                    "marks": [[{"at": [1.5]}, {"at": [2.5, ""]}]],
                }
            }
        ],
    },
    {"id": "simple_python_1", "ground_truth": [{"geometry.area": {"base": [3], "unit": ["m"], "sides": [[3, 4, 5], ""]}}]},
    {"id": "simple_python_2", "ground_truth": [{"geometry.area": {"base": [4], "unit": ["inch"]}}]},  # breaks the enum: left out
    {"id": "simple_python_3", "ground_truth": [{"geometry.area": {"base": [1]}}]},
    {"id": "simple_python_4", "ground_truth": [{"geometry.area": {"base": [""], "label": ["x"]}}]},  # a required argument marked optional
]
IRRELEVANT = [{"id": f"irrelevance_{i}", "question": [[{"role": "user", "content": f"Tell me a joke {i}"}]], "function": [TRIANGLE]} for i in range(6)]


def write_lines(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A BFCL data folder with simple_python and irrelevance, used in place of the package's."""
    folder = tmp_path / "bfcl_data"
    write_lines(folder / "BFCL_v4_simple_python.json", SIMPLE)
    write_lines(folder / "possible_answer" / "BFCL_v4_simple_python.json", ANSWERS)
    write_lines(folder / "BFCL_v4_irrelevance.json", IRRELEVANT)
    monkeypatch.setattr(bfcl, "data_dir", lambda: folder)
    return folder


def test_function_docs_become_openai_tools_with_bfcl_type_conversion() -> None:
    converted = bfcl.tool(TRIANGLE)
    assert converted["type"] == "function" and converted["function"]["name"] == "geometry.area"
    params = converted["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["base"]
    props = params["properties"]
    assert props["base"]["type"] == "number" and props["unit"] == {"type": "string", "enum": ["cm", "m"], "description": "Unit."}
    assert props["sides"] == {"type": "array", "items": {"type": "integer"}, "description": "Sides."}
    assert props["label"]["type"] == "string"  # BFCL's "any" is a string to tool-calling models
    assert props["style"]["type"] == "object" and props["style"]["properties"]["width"]["type"] == "integer"
    assert props["marks"]["items"]["type"] == "object" and props["marks"]["items"]["properties"]["at"]["type"] == "number"
    assert TRIANGLE["parameters"]["type"] == "dict", "the BFCL doc itself is left as it was"
    assert bfcl.openai_schema({"type": "Queue"})["type"] == "array" and bfcl.openai_schema({"description": "?"})["type"] == "string"


def test_possible_answers_become_expected_calls(data: Path) -> None:
    done = bfcl.convert("simple_python")
    assert [c.id for c in done.cases] == ["simple_python_0", "simple_python_1"]
    first, second = done.cases
    assert first.prompt == "Area of a triangle with base 10 cm?" and first.system is None and first.category == "simple_python"
    assert second.system == "Be brief." and second.prompt == "Base 3, in metres."
    (call,) = first.expect
    assert call.name == "geometry.area"
    assert dict(call.arguments) == {"base": 10.0, "unit": "cm", "marks": [{"at": 1.5}, {"at": 2.5}]}
    assert call.optional == ("unit", "style")
    assert call.accept["base"] == (10,) and call.accept["unit"] == ()  # "centimetres" breaks the enum: dropped
    assert call.accept["style"] == (ObjectPattern({"color": ("red", "Red"), "width": (2,)}, ("width",)),)
    assert call.accept["marks"] == (ItemsPattern(((ObjectPattern({"at": (1.5,)}),), (ObjectPattern({"at": (2.5,)}, ("at",)),))),)
    assert second.expect == (ExpectedCall("geometry.area", {"base": 3, "unit": "m", "sides": [3, 4, 5]}, ("sides",)),)
    assert [(p.case_id, p.kind, p.argument, p.value) for p in done.pruned] == [("simple_python_0", "alternative", "unit", "centimetres")]
    skipped = dict(done.skipped)
    assert sorted(skipped) == ["simple_python_2", "simple_python_3", "simple_python_4"]
    assert "'inch' is not one of ['cm', 'm']" in skipped["simple_python_2"]
    assert "not one user message after system messages (user/assistant/user)" in skipped["simple_python_3"]
    assert "'base' is a required property" in skipped["simple_python_4"]
    irrelevant = bfcl.convert("irrelevance").cases
    assert len(irrelevant) == 6 and all(c.expect == () for c in irrelevant)


def test_bfcl_settings_pick_categories_and_sample_them(data: Path) -> None:
    every = bfcl.cases(["simple_python", "irrelevance"])
    assert [c.id for c in every] == ["simple_python_0", "simple_python_1"] + [f"irrelevance_{i}" for i in range(6)]
    assert every[0].max_new_tokens is not None and every[0].max_new_tokens > 64  # room for the calls written out
    assert every[-1].max_new_tokens == 64 and bfcl.cases(["irrelevance"], max_new_tokens=200)[0].max_new_tokens == 200
    drawn = bfcl.cases(["irrelevance"], sample=3, seed=7)
    assert len(drawn) == 3 and drawn == bfcl.cases(["irrelevance"], sample=3, seed=7)
    assert {tuple(c.id for c in bfcl.cases(["irrelevance"], sample=3, seed=s)) for s in range(6)} != {tuple(c.id for c in drawn)}
    assert len(bfcl.cases(["irrelevance"], sample=50)) == 6


def test_without_the_package_the_setting_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ConfigError, match=r"needs BFCL's cases from the bfcl-eval package.*pip install --no-deps bfcl-eval"):
        bfcl.cases(["simple_python"])
    with pytest.raises(ConfigError, match="unknown category 'simple_java'"):
        bfcl.read("simple_java", Path("."))


class Context:
    """The part of GateContext that runner.collect asks for."""

    def cases(self, kind: Any, settings: ToolCallThresholds, given: Sequence[ToolCase] | None = None) -> list[ToolCase]:
        if given is not None:
            return list(given)
        return kind.collect(settings.builtin_cases, settings.cases, Path("."))


def test_the_runner_adds_bfcl_cases_to_the_gate_s_own(data: Path) -> None:
    builtin = TOOL_CALLS.builtin_cases()
    context: Any = Context()
    assert runner.collect(context, ToolCallThresholds(), None) == builtin  # off by default: the built-in suite as it was
    both = runner.collect(context, ToolCallThresholds(bfcl=("irrelevance",), bfcl_sample=2), None)
    assert both[: len(builtin)] == builtin and len(both) == len(builtin) + 2
    only = runner.collect(context, ToolCallThresholds(bfcl=("simple_python",), builtin_cases=False), None)
    assert [c.id for c in only] == ["simple_python_0", "simple_python_1"]
    assert runner.collect(context, ToolCallThresholds(bfcl=("simple_python",)), builtin[:1]) == builtin[:1]  # a test's own cases


@pytest.mark.skipif(importlib.util.find_spec("bfcl_eval") is None, reason=f"bfcl-eval is not installed: {bfcl.INSTALL}")
def test_the_package_s_own_categories_convert() -> None:
    for category, least in (("simple_python", 390), ("multiple", 195), ("parallel", 195), ("live_simple", 250), ("irrelevance", 240)):
        done = bfcl.convert(category)
        assert len(done.cases) >= least, (category, done.skipped[:3])
        assert len(done.cases) + len(done.skipped) == len(bfcl.read(category)[0])
    drawn = bfcl.cases(["parallel"], sample=5, seed=1)
    assert len(drawn) == 5 and all(len(c.expect) >= 2 for c in drawn if c.id.startswith("parallel_"))


def test_the_gate_runs_bfcl_cases_through_the_harness(pytester: pytest.Pytester, data: Path) -> None:
    (pytester.path / "tiny-model").mkdir()
    for name, text in (("config.json", '{"model_type": "double"}'), ("tokenizer.json", "{}"), ("model.safetensors", "{}")):
        (pytester.path / "tiny-model" / name).write_text(text)
    pytester.makeconftest(CONFTEST)
    tables = "".join(f'[candidates.{n}]\nengine = "hf"\nmodel = "tiny-model"\n\n' for n in ("base", "twin"))
    settings = '[gates.tool_call]\ndecision = "every_case"\nbuiltin_cases = false\nbfcl = ["simple_python", "irrelevance"]\nbfcl_sample = 4\nbfcl_seed = 1\n'
    settings += 'prompt_format = "template"\ntool_choice = "auto"\n'
    pytester.makefile(".toml", quantgate=f'baseline = "base"\n\n{tables}{settings}')
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--quantgate-report=r.json", "--quant-candidate=twin", "--quantgate-suite=only", "-m", "tool_call", "--snapshot-update"
    )
    result.assert_outcomes(passed=1)
    entry = reports.entries(pytester.path / "r.json")[("twin", "tool_call")]
    ids = [c["case_id"] for c in entry["cases"]]
    assert ids[:2] == ["simple_python_0", "simple_python_1"] and len(ids) == 6 and all(i.startswith("irrelevance_") for i in ids[2:])
    assert entry["verdict"] == "pass" and entry["thresholds"]["bfcl"] == ["simple_python", "irrelevance"]
    recorded = json.loads((pytester.path / "golden_snapshots" / "test_tool_call--base.json").read_text())
    assert sorted(recorded["cases"]) == sorted(ids)
    # tool_choice goes with the tools in every request (and so into what the record depends on).
    assert {json.dumps(case["request"].get("tool_choice")) for case in recorded["cases"].values()} == {'"auto"'}
    shutil.rmtree(pytester.path / "golden_snapshots")
