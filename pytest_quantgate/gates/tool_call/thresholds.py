from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import CaseGateThresholds, GeneratedCases, StagedCases, max_new_tokens

# BFCL's single-turn categories whose cases the gate can take (bfcl.py): the Python AST
# categories with expected calls, and those where no call is due.
BFCL_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
)


@dataclass(frozen=True)
class ToolCallThresholds(CaseGateThresholds, StagedCases, GeneratedCases):
    """`generated` cases (families.py: requests that state every argument, and questions no
    offered tool answers) join the built-in and file cases, and BFCL's when `bfcl` names some."""

    max_new_tokens: int = max_new_tokens(64)
    # How tools reach the model: its chat template when that renders `tools` ("template"),
    # else SmolLM2's published tool-calling system prompt ("smollm2"); "auto" picks.
    prompt_format: str = setting("auto", enum=["auto", "template", "smollm2"])
    # How strings are compared: "bfcl" is exactly BFCL's standardize_string (spaces and
    # , . / - _ * ^ dropped, lower-case, ' read as "); "loose" also drops \ ' " ! ? ; : ( ).
    string_match: str = setting("bfcl", enum=["bfcl", "loose"])
    # BFCL's own cases (the bfcl-eval package's data, installed with `pip install --no-deps
    # bfcl-eval`) added to the gate's: these categories, at most `bfcl_sample` cases of each
    # (0: all), drawn with `bfcl_seed`. Off by default.
    bfcl: tuple[str, ...] = setting((), type="array", items={"enum": list(BFCL_CATEGORIES)}, uniqueItems=True)
    bfcl_sample: int = setting(0, type="integer", minimum=0)
    bfcl_seed: int = setting(0, type="integer")
    # OpenAI's tool_choice sent with each case to a served model ("auto", "required", "none"),
    # with the tools in the request (prompt_format "template"); "" sends none. A vLLM server
    # answers native tool_calls only when started with --enable-auto-tool-choice and a
    # --tool-call-parser. Engines that run the model in-process ignore it.
    tool_choice: str = setting("", enum=["", "auto", "required", "none"])
