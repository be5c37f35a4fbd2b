"""How close the drift gate's KLD comes to the full-vocabulary KLD, by recorded top-k.

    OMP_NUM_THREADS=1 NW=4 python benchmarks/drift_topk_estimate.py

For the hf candidates (int8, int4, 2-bit KV) against the float32 baseline and the GGUF ladder
(Q8_0, Q4_K_M, Q2_K) against the F32 GGUF: the full-vocabulary KLD from both engines' full
logits over the scored rows of the first NW corpus windows, and, for k = 32 ... 1024, the
top-k + rest-bin lower bound and the gate's estimate (decision.kl_estimate) as shares of it,
with the baseline's mass outside the top-k (mean / p90). Stop 17's figures (4 windows): the
estimate held 0.975-0.995 of the full KLD at k=256, the bound 0.89-0.93 (0.73-0.82 at k=32).
"""

from __future__ import annotations

import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

from _shared import ROOT

sys.path.insert(0, str(ROOT))


def full_logprobs(engine: object, windows: list) -> np.ndarray:
    import torch

    rows = []
    for w in windows:
        scored = slice(w.first_scored - 1, len(w.token_ids) - 1)
        if hasattr(engine, "_forward_logprobs"):  # hf
            rows.append(engine._forward_logprobs(torch.tensor([w.token_ids]))[0][scored].double().numpy())
        else:  # llama.cpp
            engine._eval(list(w.token_ids), reset=True)
            logits = np.asarray(engine.llm.scores[: len(w.token_ids) - 1], dtype=np.float64)
            rows.append(log_softmax(logits, axis=-1)[scored])
    return np.concatenate(rows)


def main() -> None:
    import tests.engine_stack  # noqa: F401  (one copy of torch/quanto)
    from pytest_quantgate import engines
    from pytest_quantgate.gates.common import corpus
    from pytest_quantgate.gates.drift import decision
    from pytest_quantgate.gates.registry import parse_config
    from pytest_quantgate.models import default_cache_dir
    from tests.helpers import DEMO, GGUF, HF_INT4, demo_config

    extra = HF_INT4 + GGUF + f'\n[candidates.gguf-q4_k_m]\nengine = "llamacpp"\nmodel = "{DEMO}@gguf-q4_k_m"\nbaseline = "gguf-f32"\n'
    cfg = parse_config(tomllib.loads(demo_config(extra=extra)), Path("quantgate.toml"))
    cache = default_cache_dir()
    count = int(os.environ.get("NW", "4"))
    for base_name, names in (("baseline", ["hf-int8", "hf-int4", "hf-kv2"]), ("gguf-f32", ["gguf-q8_0", "gguf-q4_k_m", "gguf-q2_k"])):
        base = engines.load_engine(cfg.candidates[base_name], cache)
        windows = corpus.make_windows("builtin", base.tokenize(corpus.builtin_corpus().text), 256)[:count]
        p = full_logprobs(base, windows)
        base.close()
        for name in names:
            started = time.perf_counter()
            cand = engines.load_engine(cfg.candidates[name], cache)
            q = full_logprobs(cand, windows)
            cand.close()
            full = float((np.exp(p) * (p - q)).sum(-1).mean())
            row = [f"{name}: full {full:.5f} ({len(p)} positions, {time.perf_counter() - started:.0f} s)"]
            for k in (32, 128, 256, 512, 1024):
                top = np.argsort(-p, axis=-1)[:, :k]
                named_p, named_q = np.take_along_axis(p, top, -1), np.take_along_axis(q, top, -1)
                rest = decision.rest_mass(named_p)
                row.append(
                    f"k={k} bound {decision.kl_lower_bound(named_p, named_q).mean() / full:.3f} "
                    f"estimate {decision.kl_estimate(named_p, named_q).mean() / full:.3f} "
                    f"rest {rest.mean():.4f}/{np.percentile(rest, 90):.4f}"
                )
            print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
