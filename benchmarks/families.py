"""How the demo's models do on the generated golden task families: pass share per family and
per template, and the generation time (the families should be neither near 0% nor near 100%).

    python benchmarks/families.py [--candidate baseline] [--size 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import time

from _shared import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", default="baseline")
    parser.add_argument("--size", type=int, default=40, help="cases per family")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from pytest_quantgate.gates.golden.families import FAMILIES, generate

    cfg, engine = load(args.candidate)
    generated = [g for family in FAMILIES for g in generate(family, args.size, args.seed)]
    requests = [case.request(engine.spec.generation.max_new_tokens) for case, _, _ in generated]
    started = time.perf_counter()
    answers = engine.generate(requests, engine.spec.generation.top_logprobs)
    seconds = time.perf_counter() - started
    by_family: dict[str, list[bool]] = collections.defaultdict(list)
    by_template: dict[str, list[bool]] = collections.defaultdict(list)
    for (case, _, _), answer in zip(generated, answers):
        held = case.expect.holds(answer.text)
        by_family[case.category].append(held)
        by_template[f"{case.category}: {' '.join(case.prompt.split()[:4])}"].append(held)
    print(f"{args.candidate}: {len(requests)} cases in {seconds:.0f} s ({len(requests) / seconds:.1f} cases/s)")
    for name, held in by_family.items():
        print(f"  {name:<14} {sum(held) / len(held):6.1%} of {len(held)}")
    for name, held in sorted(by_template.items()):
        print(f"    {name:<55} {sum(held)}/{len(held)}")
    engine.close()


if __name__ == "__main__":
    main()
