"""One engine per candidate per process: loaded on first use, shared by every test."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..config import CandidateSpec
from .base import Engine


class EnginePool:
    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._engines: dict[str, Engine] = {}
        self._served: dict[str, Any] = {}  # name -> serving.ServedModel (latency gate)
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

    def served(self, spec: CandidateSpec) -> Any:
        """The candidate as an endpoint (serving.ServedModel): an openai candidate's own, else
        its runtime's server, started once and kept until the candidate is released."""
        if spec.engine == "openai":
            return self.get(spec).served  # type: ignore[attr-defined]
        if spec.name not in self._served:
            from .. import models
            from . import require, serving

            require(spec)
            self._served[spec.name] = serving.serve(spec, models.resolve(spec.model, self.cache_dir))
            self.acquired.append(f"{spec.name} (served)")
        return self._served[spec.name]

    def is_loaded(self, name: str) -> bool:
        return name in self._engines

    def loaded(self, name: str) -> Engine | None:
        return self._engines.get(name)

    def release(self, name: str) -> None:
        engine = self._engines.pop(name, None)
        if engine is not None:
            engine.close()
        served = self._served.pop(name, None)
        if served is not None:
            served.stop()

    def close(self) -> None:
        for name in [*self._engines, *self._served]:
            self.release(name)
