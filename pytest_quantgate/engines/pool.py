"""One engine per candidate per process: loaded on first use, shared by every test."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CandidateSpec
from .base import Engine

if TYPE_CHECKING:
    from .serving import ServedModel


class EnginePool:
    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._engines: dict[str, Engine] = {}
        self._served: dict[str, ServedModel] = {}  # name -> its endpoint (latency gate)
        self.acquired: list[str] = []  # every engine this session asked for, in order

    def get(self, spec: CandidateSpec) -> Engine:
        if spec.name not in self._engines:
            from . import load_engine

            self._engines[spec.name] = load_engine(spec, self.cache_dir)
            self.acquired.append(spec.name)
        return self._engines[spec.name]

    def served(self, spec: CandidateSpec) -> ServedModel:
        """The candidate as an endpoint: an openai candidate's own, else its runtime's
        server, started once and kept until the candidate is released."""
        if spec.engine == "openai":
            from .openai import OpenAIEngine

            engine = self.get(spec)
            assert isinstance(engine, OpenAIEngine), engine
            return engine.served
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
