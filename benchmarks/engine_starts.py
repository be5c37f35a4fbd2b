"""Engine start-up and one batch of golden prompts per engine kind, on the demo model.

    python benchmarks/engine_starts.py --candidates baseline,gguf-f32,served-gguf
    python benchmarks/engine_starts.py --candidates vllm-fp32,awq-int4     # in the vLLM env

`served-gguf` is llama.cpp's OpenAI server started on loopback and read by the openai engine.
Prints, per candidate: seconds to a usable engine (server start included), seconds for the 56
built-in golden prompts in one generate() call, tokens and seconds per token.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

from _shared import ROOT

if __name__ == "__main__":  # vLLM spawns workers: keep the work behind the guard
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", default="baseline,gguf-f32,served-gguf")
    args = parser.parse_args()

    from pytest_quantgate import engines, models
    from pytest_quantgate.gates import registry
    from pytest_quantgate.gates.golden.cases import GOLDEN

    cfg = registry.load_config(ROOT)
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    requests = [c.request(48) for c in GOLDEN.builtin_cases()]
    print(f"{'candidate':<14} {'engine':<9} {'start_s':>8} {'generate_s':>11} {'tokens':>7} {'ms/token':>9}")
    for name in args.candidates.split(","):
        if name == "served-gguf":
            spec = replace(cfg.candidates["gguf-f32"], name=name, engine="openai", server="llamacpp")
        else:
            spec = cfg.candidates[name]
        started = time.perf_counter()
        engine = engines.load_engine(spec, cache)
        start_s = time.perf_counter() - started
        started = time.perf_counter()
        answers = engine.generate(requests, 5)
        generate_s = time.perf_counter() - started
        tokens = sum(len(a.token_ids) for a in answers)
        print(f"{name:<14} {spec.engine:<9} {start_s:8.1f} {generate_s:11.1f} {tokens:7d} {1000 * generate_s / tokens:9.1f}")
        engine.close()
