"""Baseline records: a baseline's answers stored as syrupy snapshots under `golden_snapshots/`.

One snapshot file per (test, baseline), e.g. `golden_snapshots/test_golden--baseline.json`,
holding the baseline's fingerprint (model hash + engine + flags) and one entry per case.
`--snapshot-update` re-records it from the baseline engine; any other run reads it, so a
candidate run never loads the baseline engine while the record matches the fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from .engines.base import Generation, GenerationRequest

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.location import PyTestLocation

RECORD_FORMAT = 1
SNAPSHOT_DIR = pytest.StashKey[Path]()  # set by the plugin from config / ini / rootdir


class RecordError(Exception):
    """A baseline record is missing or stale; the message names the command that fixes it."""


def snapshot_root(config: pytest.Config) -> Path:
    return config.stash[SNAPSHOT_DIR]


class BaselineRecordExtension(SingleFileSnapshotExtension):
    """Pretty JSON files in the project's snapshot folder, owned by the test that made them."""

    file_extension = "json"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def dirname(cls, *, test_location: "PyTestLocation") -> str:
        return str(snapshot_root(test_location.item.config))

    @classmethod
    def discovery_dirname(cls, *, test_location: "PyTestLocation") -> str:
        return cls.dirname(test_location=test_location)

    @classmethod
    def get_snapshot_name(cls, *, test_location: "PyTestLocation", index: Any = 0) -> str:
        return str(index)

    @classmethod
    def matches_test_location(cls, *, test_location: "PyTestLocation", snapshot_location: str) -> bool:
        return Path(snapshot_location).name.startswith(f"{test_location.methodname}--")


def record_name(test_name: str, baseline: str) -> str:
    return f"{test_name}--{baseline}"


def request_key(request: GenerationRequest) -> dict[str, Any]:
    return asdict(request)


class BaselineRecords:
    """Reads or (re)writes the baseline's answers for one test through its syrupy snapshot."""

    def __init__(self, snapshot: "SnapshotAssertion", test_name: str, baseline: str, fingerprint: Mapping[str, Any]) -> None:
        self.snapshot = snapshot.use_extension(BaselineRecordExtension)
        self.name = record_name(test_name, baseline)
        self.baseline = baseline
        self.fingerprint = dict(fingerprint)

    @property
    def updating(self) -> bool:
        return bool(self.snapshot.update_snapshots)

    def _recall(self) -> dict[str, Any] | None:
        data, _tainted = self.snapshot._recall_data(index=self.name)
        return json.loads(data) if data is not None else None

    def answers(
        self,
        case_ids: Sequence[str],
        requests: Sequence[GenerationRequest],
        run_baseline: Callable[[Sequence[GenerationRequest]], list[Generation]],
        environment: Mapping[str, Any],
    ) -> tuple[list[Generation], str]:
        """The baseline's generations for these cases and where they came from."""
        if self.updating:
            generations = run_baseline(requests)
            record = {
                "format": RECORD_FORMAT,
                "baseline": self.baseline,
                "fingerprint": self.fingerprint,
                "environment": dict(environment),
                "cases": {
                    cid: {"request": request_key(req), "generation": gen.to_record()}
                    for cid, req, gen in zip(case_ids, requests, generations)
                },
            }
            assert self.snapshot(name=self.name) == record
            return generations, "engine"
        record = self._recall()
        hint = "re-record it: pytest --quant-candidate=<candidate> --snapshot-update"
        if record is None:
            raise RecordError(
                f"no baseline record {self.name}.json for baseline {self.baseline!r} in "
                f"{snapshot_root(self.snapshot.test_location.item.config)}; {hint}"
            )
        if record.get("format") != RECORD_FORMAT or record.get("fingerprint") != self.fingerprint:
            raise RecordError(
                f"baseline record {self.name}.json was made for a different baseline "
                f"(recorded fingerprint {record.get('fingerprint')}, now {self.fingerprint}); {hint}"
            )
        stale = [
            cid for cid, req in zip(case_ids, requests)
            if record["cases"].get(cid, {}).get("request") != json.loads(json.dumps(request_key(req)))
        ]
        if stale:
            raise RecordError(
                f"baseline record {self.name}.json has no answer for {len(stale)} case(s) "
                f"(new or changed: {', '.join(stale[:5])}); {hint}"
            )
        # Mark the snapshot as used (syrupy fails a session on unused snapshots); the record
        # is compared with its own canonical form, so a hand-edited file is caught here too.
        assert self.snapshot(name=self.name) == record, f"{self.name}.json is not in canonical form; {hint}"
        return [Generation.from_record(record["cases"][cid]["generation"]) for cid in case_ids], "record"
