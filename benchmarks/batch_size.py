"""Generation time of the golden set at several batch widths, and whether the tokens change.

    python benchmarks/batch_size.py [--candidate baseline] [--repeat 1] [--widths 8 32 64]

Replays the requests of the committed golden record (golden_snapshots/test_golden--baseline.json)
through the candidate's hf engine at each width, in one process, and counts the cases whose
greedy tokens equal the recorded ones (for the baseline: the record's own answers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from _shared import ROOT, load, median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", default="baseline")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 32, 64])
    args = parser.parse_args()

    from pytest_quantgate.engines.base import ChatMessage, GenerationRequest

    record = json.loads((ROOT / "golden_snapshots" / "test_golden--baseline.json").read_text())["cases"]
    requests = [
        GenerationRequest(tuple(ChatMessage(m["role"], m["content"]) for m in case["request"]["messages"]), case["request"]["max_new_tokens"])
        for case in record.values()
    ]
    recorded = [[step["id"] for step in case["result"]["logprobs"]] for case in record.values()]
    _cfg, engine = load(args.candidate)
    spec = engine.spec
    for width in args.widths:
        engine.spec = dataclasses.replace(spec, generation=dataclasses.replace(spec.generation, batch_size=width))
        seconds, out = median_seconds(lambda: engine.generate(requests, spec.generation.top_logprobs), args.repeat)
        same = sum(list(g.token_ids) == ids for g, ids in zip(out, recorded))
        print(f"batch {width:>3}: {seconds:6.1f} s for {len(requests)} cases, {same}/{len(requests)} with the recorded tokens")
    engine.close()


if __name__ == "__main__":
    main()
