"""Is the latency gate's client faithful? Two checks.

    python benchmarks/load_client.py capacity     # tests env: client vs a trivial server
    python benchmarks/load_client.py vllm         # vLLM env: client vs `vllm bench serve`

capacity: a trivial OpenAI streaming server (tests/fake_openai.py under uvicorn, in its own
process) answers instantly; the client's requests/s and token events/s at growing
concurrency are its ceiling, to set beside what the demo's real servers sustain. Then the
server waits a known 50 ms before the first token and 10 ms between tokens: the client's
TTFT/ITL error at 64 requests in flight is its distortion.

vllm: `vllm serve` with the demo's float32 checkpoint on loopback; vLLM's own benchmark
client and ours send the same prompts (the golden prompts, 32 output tokens, stop ignored,
greedy) at the same concurrency, alternately (bench, ours, bench, ours), and their TTFT,
TPOT, ITL, E2E and throughput are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import ROOT

sys.path.insert(0, str(ROOT))

FAKE_SERVER = """
import sys, uvicorn
from tests.fake_openai import Behaviour, app
ttft, itl, tokens, port = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
uvicorn.run(app(Behaviour(ttft_s=ttft, itl_s=itl, tokens=tokens)), host="127.0.0.1", port=port, log_level="warning")
"""


def fake_server(ttft_s: float, itl_s: float, tokens: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    from pytest_quantgate.engines.servers import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(ttft_s), str(itl_s), str(tokens), str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}/v1/"
    for _ in range(100):
        try:
            httpx.get(url + "models", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the trivial server did not start")


def ours(url: str, payloads: list[dict], concurrency: int, headers: dict | None = None):
    from pytest_quantgate.engines import loadgen

    options = loadgen.client_options(url, headers or {}, 120, max(64, concurrency))
    return loadgen.measure(options, "chat/completions", payloads, loadgen.TrafficShape(concurrency=concurrency),
                           request_timeout_s=120, time_limit_s=600)


def capacity() -> None:
    from pytest_quantgate import latency_stats

    payload = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 32}
    process, url = fake_server(0.0, 0.0, 32)
    try:
        print("trivial server, 32 tokens per answer, no waiting")
        print(f"{'concurrency':>11} {'requests':>8} {'req/s':>8} {'events/s':>9}")
        for concurrency, count in ((1, 200), (16, 600), (64, 1000)):
            ours(url, [payload] * 20, concurrency)  # warm the pool
            run = ours(url, [payload] * count, concurrency)
            events = sum(len(r.event_s) for r in run.results)
            assert all(r.ok for r in run.results)
            print(f"{concurrency:>11} {count:>8} {count / run.duration_s:8.0f} {events / run.duration_s:9.0f}")
    finally:
        process.terminate()
    process, url = fake_server(0.05, 0.01, 32)
    try:
        run = ours(url, [payload] * 256, 64)
        metrics = latency_stats.summarize([run], lambda text: len(text.split()))
        print("server waits 50 ms to the first token, 10 ms between tokens; 256 requests, 64 in flight")
        print(f"  TTFT median {metrics.ttft.median:.1f} ms, p99 {metrics.ttft.p99:.1f} ms (true 50)")
        print(f"  ITL  median {metrics.itl.median:.2f} ms, p99 {metrics.itl.p99:.2f} ms (true 10)")
        print(f"  TPOT median {metrics.tpot.median:.2f} ms (true 10)")
    finally:
        process.terminate()


def vllm_agreement(concurrency: int, prompts: int, output_len: int, pairs: int) -> None:
    from pytest_quantgate import config, latency_stats, models
    from pytest_quantgate.cases import GOLDEN
    from pytest_quantgate.engines import serving

    cfg = config.load(ROOT)
    spec = cfg.candidates["vllm-fp32"]
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    model = models.resolve(spec.model, cache)
    texts = [c.prompt for c in GOLDEN.builtin_cases()][:prompts]
    served = serving.serve(spec, model)
    work = Path(tempfile.mkdtemp(prefix="quantgate-bench-"))
    dataset = work / "prompts.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
    tokenizer = served.tokenizer()
    payloads = [
        {"model": spec.name, "messages": [{"role": "user", "content": t}], "max_completion_tokens": output_len,
         "temperature": 0.0, "ignore_eos": True, "stream_options": {"include_usage": True}}
        for t in texts
    ]
    bench_args = [
        "--backend", "openai-chat", "--base-url", served.endpoint.base_url.removesuffix("/v1"), "--endpoint", "/v1/chat/completions",
        "--model", str(model), "--served-model-name", spec.name, "--tokenizer", str(model),
        "--dataset-name", "custom", "--dataset-path", str(dataset), "--skip-chat-template", "--disable-shuffle",
        "--custom-output-len", str(output_len), "--num-prompts", str(prompts), "--max-concurrency", str(concurrency),
        "--ignore-eos", "--temperature", "0", "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
        "--save-result", "--result-dir", str(work), "--disable-tqdm",
    ]
    driver = (
        "import sys; from vllm.utils.argparse_utils import FlexibleArgumentParser; from vllm.benchmarks import serve; "
        "p = FlexibleArgumentParser(); serve.add_cli_args(p); serve.main(p.parse_args(sys.argv[1:]))"
    )
    rows = []
    try:
        ours(served.base_url, payloads[:4], 1)  # warm-up, as vllm bench serve sends a test request
        for pair in range(pairs):
            name = f"bench{pair}.json"
            subprocess.run([sys.executable, "-c", driver, *bench_args, "--result-filename", name], check=True, cwd=work,
                           stdout=subprocess.DEVNULL)
            result = json.loads((work / name).read_text())
            rows.append(("vllm bench serve", {k: result[k] for k in result if k.endswith("_ms") or k.endswith("throughput")}))
            run = ours(served.base_url, payloads, concurrency)
            m = latency_stats.summarize([run], lambda text: len(tokenizer.encode(text, add_special_tokens=False)))
            ours_row = {"output_throughput": m.output_throughput, "request_throughput": m.request_throughput}
            for metric in latency_stats.METRICS:
                d = getattr(m, metric)
                ours_row |= {f"mean_{metric}_ms": d.mean, f"median_{metric}_ms": d.median, f"p99_{metric}_ms": d.p99}
            rows.append(("pytest-quantgate", ours_row))
    finally:
        served.stop()
    keys = ["median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "median_itl_ms", "p99_itl_ms", "median_e2el_ms",
            "output_throughput"]
    print(f"vllm serve {spec.name} (demo float32), {prompts} golden prompts, {output_len} tokens, concurrency {concurrency}")
    print(f"{'client':<17} " + " ".join(f"{k.removesuffix('_ms'):>16}" for k in keys))
    for client, row in rows:
        print(f"{client:<17} " + " ".join(f"{row.get(k, float('nan')):16.1f}" for k in keys))


if __name__ == "__main__":  # vLLM spawns workers: keep the work behind the guard
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("capacity", "vllm"))
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--output-len", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    if args.check == "capacity":
        capacity()
    else:
        vllm_agreement(args.concurrency, args.prompts, args.output_len, args.pairs)
