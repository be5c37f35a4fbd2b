"""One engine per candidate per process: loaded on first use, shared by every test."""

from __future__ import annotations

import time
from pathlib import Path

from ..config import CandidateSpec
from .base import Engine


class EnginePool:
    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._engines: dict[str, Engine] = {}
        self.acquired: list[str] = []  # every engine this session asked for, in order
        self.load_seconds: dict[str, float] = {}

    def get(self, spec: CandidateSpec) -> Engine:
        if spec.name not in self._engines:
            from . import load_engine

            started = time.perf_counter()
            self._engines[spec.name] = load_engine(spec, self.cache_dir)
            self.load_seconds[spec.name] = round(time.perf_counter() - started, 3)
            self.acquired.append(spec.name)
        return self._engines[spec.name]

    def is_loaded(self, name: str) -> bool:
        return name in self._engines

    def release(self, name: str) -> None:
        engine = self._engines.pop(name, None)
        if engine is not None:
            engine.close()

    def close(self) -> None:
        for name in list(self._engines):
            self.release(name)
