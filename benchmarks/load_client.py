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
greedy) at the same concurrency, alternately (bench, ours, ours, bench), and their TTFT,
TPOT, ITL, E2E and throughput are printed side by side. `vllm bench serve`'s custom dataset
needs pandas (vLLM's `bench` extra): pip install pandas. --pin gives the server core 0 and
the clients core 1, so that neither client's own CPU use slows the server it measures.
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
    from pytest_quantgate.gates.latency import loadgen

    options = loadgen.client_options(url, headers or {}, 120, max(64, concurrency))
    return loadgen.measure(options, "chat/completions", payloads, loadgen.TrafficShape(concurrency=concurrency),
                           request_timeout_s=120, time_limit_s=600)


def capacity() -> None:
    from pytest_quantgate.gates.latency import metrics as latency_stats

    payload = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 32}
    process, url = fake_server(0.0, 0.0, 32)
    try:
        print("trivial server, 32 tokens per answer, no waiting (client CPU: share of one core the client used)")
        print(f"{'concurrency':>11} {'requests':>8} {'req/s':>8} {'events/s':>9} {'client CPU':>10}")
        for concurrency, count in ((1, 200), (16, 600), (64, 1000)):
            ours(url, [payload] * 20, concurrency)  # warm the pool
            cpu = time.process_time()
            run = ours(url, [payload] * count, concurrency)
            cpu = (time.process_time() - cpu) / run.duration_s
            events = sum(len(r.event_s) for r in run.results)
            assert all(r.ok for r in run.results)
            print(f"{concurrency:>11} {count:>8} {count / run.duration_s:8.0f} {events / run.duration_s:9.0f} {cpu:10.0%}")
    finally:
        process.terminate()
    for ttft, itl, concurrency in ((0.05, 0.02, 1), (0.05, 0.02, 16), (0.05, 0.01, 64)):
        process, url = fake_server(ttft, itl, 32)
        try:
            run = ours(url, [payload] * (4 * concurrency), concurrency)
            metrics = latency_stats.summarize([run], lambda text: len(text.split()))
            rate = sum(len(r.event_s) for r in run.results) / run.duration_s
            print(f"server waits {ttft * 1000:.0f} ms to the first token, {itl * 1000:.0f} ms between tokens; "
                  f"{4 * concurrency} requests, {concurrency} in flight ({rate:.0f} token events/s)")
            print(f"  TTFT median {metrics.ttft.median:.1f} ms, p99 {metrics.ttft.p99:.1f} ms (true {ttft * 1000:.0f})")
            print(f"  ITL  median {metrics.itl.median:.2f} ms, p99 {metrics.itl.p99:.2f} ms (true {itl * 1000:.0f})")
            print(f"  TPOT median {metrics.tpot.median:.2f} ms (true {itl * 1000:.0f})")
        finally:
            process.terminate()


def vllm_agreement(concurrency: int, prompts: int, output_len: int, pairs: int, pin: bool) -> None:
    from pytest_quantgate import models
    from pytest_quantgate.gates import registry
    from pytest_quantgate.engines import serving
    from pytest_quantgate.gates.golden.cases import GOLDEN
    from pytest_quantgate.gates.latency import metrics as latency_stats

    cfg = registry.load_config(ROOT)
    spec = cfg.candidates["vllm-fp32"]
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    model = models.resolve(spec.model, cache)
    texts = [c.prompt for c in GOLDEN.builtin_cases()][:prompts]
    if pin:  # the server's OpenMP threads on core 0 (vLLM's CPU back-end binds them itself)
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "0"
    served = serving.serve(spec, model)
    if pin:  # the server's processes on core 0, the clients (this one, vllm bench's child) on core 1
        import psutil

        server = psutil.Process(served.pid)
        for process in [server, *server.children(recursive=True)]:
            process.cpu_affinity([0])
        os.sched_setaffinity(0, {1})
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
        for index, client in enumerate(["bench", "ours", "ours", "bench"] * ((pairs + 1) // 2)):  # A B B A
            if client == "bench":
                name = f"bench{index}.json"
                subprocess.run([sys.executable, "-c", driver, *bench_args, "--result-filename", name], check=True,
                               cwd=work, stdout=subprocess.DEVNULL)
                result = json.loads((work / name).read_text())
                rows.append(("vllm bench serve", {k: v for k, v in result.items() if k.endswith(("_ms", "throughput"))}))
                continue
            cpu = time.process_time()
            run = ours(served.base_url, payloads, concurrency)
            cpu = (time.process_time() - cpu) / run.duration_s
            m = latency_stats.summarize([run], lambda text: len(tokenizer.encode(text, add_special_tokens=False)))
            row = {"output_throughput": m.output_throughput, "client_cpu_%": 100 * cpu}
            for metric in latency_stats.METRICS:
                d = getattr(m, metric)
                row |= {f"mean_{metric}_ms": d.mean, f"median_{metric}_ms": d.median, f"p99_{metric}_ms": d.p99}
            rows.append(("pytest-quantgate", row))
    finally:
        served.stop()
    keys = ["median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "median_itl_ms", "p99_itl_ms", "median_e2el_ms",
            "output_throughput", "client_cpu_%"]
    where = "server pinned to core 0, clients to core 1" if pin else "server and client share the cores"
    print(f"vllm serve {spec.name} (demo float32), {prompts} golden prompts, {output_len} tokens, concurrency {concurrency}; {where}")
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
    parser.add_argument("--pin", action="store_true", help="server on core 0, clients on core 1 (no CPU contention)")
    args = parser.parse_args()
    if args.check == "capacity":
        capacity()
    else:
        vllm_agreement(args.concurrency, args.prompts, args.output_len, args.pairs, args.pin)
