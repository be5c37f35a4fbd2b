"""Structured-output and tool-call gates: where the time goes.

    python benchmarks/structured_gates.py [--candidate hf-int8] [--repeat 3]

In one process with the engine loaded once, times (1) the candidate's batched generation of
the built-in structured cases, free and guided (xgrammar's logits processor), per generated
token; (2) the tool-call cases' generation; (3) the pure gate functions over the recorded
baseline answers and those generations (reading JSON, schemas, BFCL checks, stop checks,
paired statistics), which must be negligible next to the engine.
"""

from __future__ import annotations

import json

from _shared import ROOT, arguments, load, median_seconds


def main() -> None:
    args = arguments(__doc__)

    from pytest_quantgate.engines.base import Generation
    from pytest_quantgate.gates.structured_output import decision as structured_output
    from pytest_quantgate.gates.structured_output.cases import STRUCTURED
    from pytest_quantgate.gates.tool_call import decision as tool_call
    from pytest_quantgate.gates.tool_call import formats as tool_format
    from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS

    cfg, engine = load(args.candidate)
    structured, tools = STRUCTURED.builtin_cases(), TOOL_CALLS.builtin_cases()
    limits_s, limits_t = cfg.thresholds("structured_output"), cfg.thresholds("tool_call")
    work = {
        "structured free": [c.request(limits_s.max_new_tokens) for c in structured],
        "structured guided": [c.request(limits_s.max_new_tokens, guided=True) for c in structured],
        "tool calls": [tool_format.request(c, "smollm2", limits_t.max_new_tokens) for c in tools],
    }

    def recorded(test: str) -> list[Generation]:
        data = json.loads((ROOT / "golden_snapshots" / f"{test}--baseline.json").read_text())
        return [Generation.from_record(case["result"]) for case in data["cases"].values()]

    results = {}
    for name, requests in work.items():
        seconds, answers = median_seconds(lambda: engine.generate(requests, 1), args.repeat)
        results[name] = (seconds, sum(len(a.token_ids) for a in answers), answers)

    baseline_structured, baseline_tools = recorded("test_structured_output"), recorded("test_tool_call")  # read once, untimed
    gate_runs = {
        "structured_output.evaluate": lambda: structured_output.evaluate(
            structured, baseline_structured, results["structured free"][2], limits_s
        ),
        "tool_call.evaluate": lambda: tool_call.evaluate(tools, baseline_tools, results["tool calls"][2], limits_t),
    }
    print(f"candidate {args.candidate}, median of {args.repeat}")
    for name, (seconds, tokens, _) in results.items():
        print(f"  generate {name:18s} {seconds:7.2f} s  {tokens:5d} tokens  {1000 * seconds / max(tokens, 1):6.1f} ms/token")
    for name, fn in gate_runs.items():
        print(f"  {name:27s} {1000 * median_seconds(fn, args.repeat)[0]:7.1f} ms")


if __name__ == "__main__":
    main()
