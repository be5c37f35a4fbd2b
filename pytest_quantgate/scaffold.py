"""`python -m pytest_quantgate init`: the files a project needs to gate its own model, written
once and commented, so that a new user starts from a working config rather than a blank page.

    python -m pytest_quantgate init --model ./my-model            # a transformers checkpoint folder
    python -m pytest_quantgate init --model ./my-model-f16.gguf   # a GGUF file (llama.cpp)

Writes quantgate.toml (the baseline and two quantized candidates), quantgate_cases/golden.json
(regression cases that must hold) and tests/test_quantgate_regressions.py (a regression case as
a test), refuses to overwrite any of them without --force, and prints the commands that record
the baseline's answers and gate a candidate.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import atomic

CONFIG = "quantgate.toml"
CASES = "quantgate_cases/golden.json"
TEST = "tests/test_quantgate_regressions.py"

_HF_CANDIDATES = '''
[candidates.hf-int8]                     # int8 weights (torchao), activations in {dtype}
engine = "hf"
model = "{model}"
dtype = "{dtype}"
quantization.weights = {{ method = "torchao", dtype = "int8" }}

[candidates.hf-kv4]                      # the same weights, a 4-bit KV cache (quanto)
engine = "hf"
model = "{model}"
dtype = "{dtype}"
quantization.kv_cache = {{ method = "quanto", bits = 4 }}

# More candidates, once you have them:
# [candidates.awq-int4]                  # an AWQ/GPTQ/compressed-tensors folder served by vLLM
# engine = "vllm"
# model = "./my-model-awq"
# baseline = "vllm-baseline"             # compare on the same engine: declare the baseline on vLLM too
#
# [candidates.served]                    # any OpenAI-compatible endpoint
# engine = "openai"
# model = "{model}"                      # its tokenizer (the compat gate, token counts)
# endpoint = {{ base_url = "http://127.0.0.1:8000/v1", model = "my-model-awq", api_key_env = "API_KEY" }}
'''

_GGUF_CANDIDATES = '''
# Quantized GGUF files of the same model, made with llama.cpp's quantizer, e.g.
#   llama-quantize {model} {stem}-Q8_0.gguf Q8_0
[candidates.gguf-q8_0]
engine = "llamacpp"
model = "{stem}-Q8_0.gguf"

[candidates.gguf-q4_k_m]
engine = "llamacpp"
model = "{stem}-Q4_K_M.gguf"
runtime = {{ n_ctx = 4096 }}             # llama.cpp's own settings (a quantized KV cache: type_k, type_v)
'''

CONFIG_TEXT = '''# pytest-quantgate: may a quantized model replace its full-precision one?
# Each candidate is gated against the baseline's recorded answers, one verdict per gate.
# Reference: https://pypi.org/project/pytest-quantgate/ (README: candidates, gates, thresholds).
baseline = "baseline"

[candidates.baseline]                    # the model you serve today
engine = "{engine}"
model = "{model}"
{dtype_line}{candidates}
# Gate settings: every key is optional; the defaults are in the README.
[gates.golden]
cases = ["{cases}"]                      # your regression cases, beside the built-in ones
margin = 0.1                             # the paired rule on the rest: at most 10 points worse
# families = []                          # generated task families (1,000 cases, run in stages) are on; [] switches them off

[gates.drift]                            # next-token distributions (teacher forcing; hf and llama.cpp)
max_mean_kld = 0.05
'''

CASES_TEXT = '''{
  "description": "Facts the served model must keep. Every case here must hold: losing one that held for the baseline fails the gate. Replace these with your product's own.",
  "must_hold": true,
  "cases": [
    {"id": "example-capital", "prompt": "What is the capital of France? Answer in one word.",
     "expect": {"kind": "contains", "value": "Paris"}, "max_new_tokens": 16},
    {"id": "example-arithmetic", "prompt": "What is 12 plus 30? Answer with the number only.",
     "expect": {"kind": "contains", "value": "42"}, "max_new_tokens": 16}
  ]
}
'''

TEST_TEXT = '''"""A regression case as a test: it runs for every --quant-candidate and decides like a gate
(none of its cases that held for the baseline may be lost). Record its baseline answers once
with --snapshot-update, like the built-in gates'."""

import pytest

from pytest_quantgate.gates.common.expectations import Expectation
from pytest_quantgate.gates.golden.cases import GoldenCase


@pytest.mark.golden
def test_our_facts_survive_quantization(quantgate):
    verdict = quantgate.golden([
        GoldenCase(id="boiling-point", prompt="At what temperature in Celsius does water boil at sea level? Answer with the number.",
                   expect=Expectation("contains", "100"), max_new_tokens=16),
    ])
    assert verdict.passed, verdict.explain()
'''


@dataclass(frozen=True)
class Scaffold:
    """The files `init` writes (relative path -> text) and the candidate to try first."""

    files: dict[str, str]
    first_candidate: str


def scaffold(model: str, dtype: str = "float32") -> Scaffold:
    gguf = model.lower().endswith(".gguf")
    engine = "llamacpp" if gguf else "hf"
    template = _GGUF_CANDIDATES if gguf else _HF_CANDIDATES
    config = CONFIG_TEXT.format(
        engine=engine,
        model=model,
        dtype_line="" if gguf else f'dtype = "{dtype}"\n',
        candidates=template.format(model=model, dtype=dtype, stem=model[: -len(".gguf")]),
        cases=CASES,
    )
    return Scaffold({CONFIG: config, CASES: CASES_TEXT, TEST: TEST_TEXT}, "gguf-q8_0" if gguf else "hf-int8")


def write(root: Path, made: Scaffold, force: bool = False) -> list[Path]:
    """Write every file atomically; none is written when one exists and `force` is off."""
    paths = [root / name for name in made.files]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        names = ", ".join(str(p.relative_to(root)) for p in existing)
        raise FileExistsError(f"{names} already exist(s) in {root}; nothing was written (pass --force to overwrite)")
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, made.files[str(path.relative_to(root))])
    return paths


def next_steps(made: Scaffold) -> str:
    candidate = made.first_candidate
    return f"""next:
  1. edit {CASES} (and {TEST}): facts your model must keep
  2. record the baseline's answers once (commit golden_snapshots/):
       pytest --quant-candidate={candidate} --snapshot-update
  3. gate a candidate (report, Markdown, HTML and rollout manifest under reports/):
       pytest --quant-candidate={candidate} --quantgate-report=reports/{candidate}.json
  more: pytest --markers | grep quantgate; python -m pytest_quantgate.release.matrix --table"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_quantgate init", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the baseline: a transformers checkpoint folder or a GGUF file (path or hub id)")
    parser.add_argument("--dtype", default="float32", help="the baseline's dtype on the transformers engine (default float32)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="the project folder (default: here)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    args = parser.parse_args(argv)
    made = scaffold(args.model, args.dtype)
    try:
        written = write(args.dir.resolve(), made, args.force)
    except (FileExistsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(next_steps(made))
    return 0
