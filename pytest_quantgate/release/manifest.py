"""The rollout manifest: what was gated and how to serve it, or to roll back.

One JSON file per candidate (written atomically next to the report): the artifact's identity
(paths, per-file hashes, model, tokenizer and chat-template hashes), the engine and library
versions, every runtime flag and generation setting, the gate verdicts, and the rollback
target (the baseline's artifact and flags), so a serving config can be restored from it.

    python -m pytest_quantgate.release.manifest reports/demo-awq-int4-manifest.json              # serve it
    python -m pytest_quantgate.release.manifest reports/demo-awq-int4-manifest.json --rollback   # serve the baseline

A candidate whose verdict is not PASS gets no serving command unless --not-passed is given
(exit status 3, and a warning when printed anyway).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..config import CandidateSpec
from ..errors import UsageError

MANIFEST_FORMAT = 1
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt")
SERVE_PORT = 8000


class ManifestError(UsageError):
    """A manifest that cannot be read or served; the message says what to do."""


@functools.lru_cache(maxsize=256)
def _sha256(path: Path, size: int, mtime_ns: int, cache_dir: Path) -> str:
    """A file's digest once per file version: per process (a candidate and its baseline often
    share weights) and across runs (models.cached_file_sha256 keeps it in the cache folder)."""
    from ..models import cached_file_sha256

    return cached_file_sha256(path, cache_dir)


def _file_sha256(path: Path, cache_dir: Path) -> str:
    stat = path.stat()
    return _sha256(path, stat.st_size, stat.st_mtime_ns, cache_dir)


def _text_hash(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


def _chat_template(model_path: Path) -> str | None:
    if model_path.is_dir():
        jinja = model_path / "chat_template.jinja"
        if jinja.exists():
            return jinja.read_text()
        config = model_path / "tokenizer_config.json"
        return json.loads(config.read_text()).get("chat_template") if config.exists() else None
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    reader = GGUFReader(str(model_path))
    field = reader.fields.get("tokenizer.chat_template")
    return bytes(field.parts[field.data[0]]).decode() if field is not None else None


def artifact_identity(spec: CandidateSpec, cache_dir: Path) -> dict[str, Any]:
    """Where the weights are and what they hash to, file by file."""
    from .. import models

    path = models.resolve(spec.model, cache_dir)
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("quantgate-hash")) if path.is_dir() else [path]
    tokenizer = [p for p in files if p.name in TOKENIZER_FILES]
    digest = hashlib.sha256()
    for p in tokenizer:
        digest.update(p.name.encode() + _file_sha256(p, cache_dir).encode())
    return {
        "source": spec.model,
        "path": str(path),
        "model_sha256": models.model_hash(path),
        "files": [{"name": p.name, "bytes": p.stat().st_size, "sha256": _file_sha256(p, cache_dir)} for p in files],
        "tokenizer_sha256": digest.hexdigest() if tokenizer else None,  # GGUF: inside the file
        "chat_template_sha256": _text_hash(_chat_template(path)),
        "adapter": spec.adapter,
    }


def serving_command(spec: CandidateSpec, model_path: str, port: int = SERVE_PORT) -> dict[str, Any]:
    """The OpenAI server command line that serves `spec` with its flags, or why there is none."""
    from ..engines import servers, serving
    from ..engines.base import EngineUnavailable

    try:
        kind, flags = serving.server_flags(spec, require_runtime=False)
    except EngineUnavailable as exc:
        return {"argv": None, "reason": str(exc)}
    argv = servers.command(kind, Path(model_path), spec.name, port, spec.dtype, flags)
    argv = ["python", *argv[1:]]  # whichever interpreter has the runtime installed
    return {"server": kind, "argv": argv, "shell": shlex.join(argv)}


def _side(spec: CandidateSpec, cache_dir: Path) -> dict[str, Any]:
    identity = artifact_identity(spec, cache_dir)
    return {
        "name": spec.name,
        "description": spec.description,
        "engine": spec.engine,
        "dtype": spec.dtype,
        "spec": spec.to_dict(),
        "artifact": identity,
        "serve": serving_command(spec, identity["path"]),
    }


def build(
    candidate: Mapping[str, Any], spec: CandidateSpec, baseline: CandidateSpec, cache_dir: Path, environment: Mapping[str, Any]
) -> dict[str, Any]:
    """A manifest from one candidate's report entry (its verdicts) and both specs."""
    return {
        "format": MANIFEST_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "candidate": _side(spec, cache_dir),
        "verdict": candidate["verdict"],
        "gates": [
            {k: g.get(k) for k in ("gate", "verdict", "reason", "key_metric", "test")} | {"mode": g.get("metrics", {}).get("mode")}
            for g in candidate["gates"]
        ],
        "rollback": _side(baseline, cache_dir),
        "environment": dict(environment),
    }


def write_all(report: Mapping[str, Any], specs: Mapping[str, CandidateSpec], baselines: Mapping[str, CandidateSpec],
              cache_dir: Path, json_path: Path) -> dict[str, Path]:
    """REPORT-CANDIDATE-manifest.json beside the report, for every candidate of the run."""
    from .. import atomic

    written = {}
    for entry in report["candidates"]:
        path = json_path.with_name(f"{json_path.stem}-{entry['name']}-manifest.json")
        atomic.write_json(path, build(entry, specs[entry["name"]], baselines[entry["name"]], cache_dir, report["environment"]))
        written[entry["name"]] = path
    return written


def model_hashes(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The candidate's and the rollback baseline's model hashes (models.model_hash)."""
    return {"candidate": manifest["candidate"]["artifact"]["model_sha256"], "baseline": manifest["rollback"]["artifact"]["model_sha256"]}


def read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: not a readable manifest ({exc}); pass the *-manifest.json a gate run wrote") from exc
    if data.get("format") != MANIFEST_FORMAT or "candidate" not in data or "rollback" not in data:
        raise ManifestError(f"{path}: not a quantgate rollout manifest (format {MANIFEST_FORMAT})")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_quantgate.release.manifest", description="Print the serving command of a gated candidate or of its rollback target.")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--rollback", action="store_true", help="the baseline it was compared with (the rollback target)")
    parser.add_argument("--port", type=int, default=SERVE_PORT)
    parser.add_argument("--json", action="store_true", help="the whole serving section as JSON")
    parser.add_argument(
        "--not-passed", action="store_true",
        help="print the candidate's command although its gates did not pass (said on stderr); the rollback needs no flag",
    )
    args = parser.parse_args(argv)
    try:
        data = read(args.manifest)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    side = data["rollback" if args.rollback else "candidate"]
    if not args.rollback and data.get("verdict") != "pass":
        failed = ", ".join(f"{g['gate']} {g['verdict'].upper()}" for g in data.get("gates", []) if g.get("verdict") != "pass")
        said = f"{side['name']} did not pass its gates (verdict {str(data.get('verdict')).upper()}: {failed or 'no gate passed'})"
        if not args.not_passed:
            print(f"error: {said}; serve the rollback target (--rollback), or pass --not-passed to print it anyway", file=sys.stderr)
            return 3
        print(f"warning: {said}; printed because --not-passed was given", file=sys.stderr)
    serve = dict(side["serve"])
    if serve.get("argv"):
        argv = list(serve["argv"])
        argv[argv.index("--port") + 1] = str(args.port)
        serve |= {"argv": argv, "shell": shlex.join(argv)}
    if args.json:
        print(json.dumps({"name": side["name"], "artifact": side["artifact"]["path"], **serve}, indent=2))
        return 0
    if not serve.get("argv"):
        print(f"error: {side['name']} has no serving command: {serve.get('reason')}", file=sys.stderr)
        return 1
    print(serve["shell"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
