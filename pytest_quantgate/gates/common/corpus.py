"""Text the drift gate scores: the built-in corpus shipped with the package and users' files,
cut into fixed-length token windows."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from ...config import ConfigError

BUILTIN_CORPUS = "drift_corpus.txt"


@dataclass(frozen=True)
class CorpusText:
    name: str
    text: str


@dataclass(frozen=True)
class Window:
    window_id: str
    token_ids: tuple[int, ...]

    @property
    def first_scored(self) -> int:
        """Index of the first scored token (predicted by logit row n/2, as llama-perplexity)."""
        return len(self.token_ids) // 2 + 1


def builtin_corpus() -> CorpusText:
    """Prose, code, JSON, chat transcripts and config written for this project (Apache-2.0)."""
    text = resources.files("pytest_quantgate.gates.common").joinpath(BUILTIN_CORPUS).read_text("utf-8")
    return CorpusText("builtin", text)


def load_corpus_files(paths: Iterable[Path]) -> list[CorpusText]:
    texts = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"drift corpus file {path} does not exist; fix gates.drift.corpus")
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"drift corpus file {path} is not UTF-8 text: {exc}") from exc
        if not text.strip():
            raise ConfigError(f"drift corpus file {path} is empty")
        texts.append(CorpusText(path.stem, text))
    return texts


def make_windows(name: str, token_ids: Sequence[int], context: int) -> list[Window]:
    """Consecutive windows of `context` tokens; a text shorter than one window is one window,
    a shorter tail after full windows is dropped (as llama-perplexity does)."""
    if len(token_ids) < 2:
        return []
    if len(token_ids) <= context:
        return [Window(f"{name}:0", tuple(token_ids))]
    return [
        Window(f"{name}:{start // context}", tuple(token_ids[start : start + context]))
        for start in range(0, len(token_ids) - context + 1, context)
    ]
