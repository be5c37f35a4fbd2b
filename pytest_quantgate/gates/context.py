"""What a gate's runner may ask of the run: the two specs, their engines, the baseline's
recorded answers and the cases. The pytest harness implements it; a runner raises
`errors.UsageError` / `errors.Unavailable` and never touches pytest itself."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Iterator,
    Mapping,
    Protocol,
    Sequence,
    TypeVar,
)

from ..engines.base import Engine, EngineUnavailable, Generation, GenerationRequest

if TYPE_CHECKING:
    from ..config import CandidateSpec, QuantgateConfig
    from ..engines.serving import ServedModel
    from .common.cases import CaseKind

Settings = TypeVar("Settings")


class GateContext(Protocol):
    candidate: "CandidateSpec"
    baseline: "CandidateSpec"
    config: "QuantgateConfig"
    cache_dir: Path

    @property
    def recording(self) -> bool:
        """Whether the baseline's answers are being (re)recorded in this run."""

    def settings(self, gate: str, given: Settings | None = None, regression_cases: Sequence[Any] | None = None) -> Settings:
        """The gate's settings: `given`, else the configured ones; cases handed in by a test
        are regression cases, decided so that none that held for the baseline may be lost."""

    def cases(self, kind: "CaseKind[Any]", settings: Any, given: Sequence[Any] | None = None) -> list[Any]:
        """`given`, else the gate's built-in set (unless switched off) plus its case files."""

    def candidate_engine(self) -> Engine: ...

    def baseline_engine(self) -> Engine: ...

    def served(self, spec: "CandidateSpec") -> "ServedModel":
        """The model as an OpenAI-compatible endpoint (its runtime's server)."""

    def answers(
        self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int
    ) -> tuple[list[Generation], list[Generation]]:
        """The baseline's answers (its record when valid) and the candidate's, each in one batch."""

    def baseline_answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        """The baseline's answers alone: its record when valid, else its engine (recorded)."""

    def candidate_answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        """The candidate's answers alone, in one batch (a stage of a sequential run)."""

    def live_baseline(self, requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        """The baseline's answers now (never recorded), each request asked once per session."""

    def load_or_record(self, keys: Mapping[str, Any], run_baseline: Callable[[], list[Any]]) -> list[Any]:
        """The baseline's results for `keys` from its record, or from `run_baseline` (recorded)."""

    def answered_live(self) -> None:
        """Say that the baseline answered live (the report shows where answers came from)."""

    def artifact_path(self, suffix: str) -> Path:
        """Where a picture or other file of this gate goes (beside the report)."""


@contextlib.contextmanager
def using(engine: Engine) -> Iterator[Engine]:
    """Name the engine in an unavailability raised while it works (a feature it lacks)."""
    try:
        yield engine
    except EngineUnavailable as exc:
        raise EngineUnavailable(f"{engine.spec.name} ({engine.spec.engine} engine): {exc}") from exc
