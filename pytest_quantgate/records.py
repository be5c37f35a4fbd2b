"""Baseline records: a baseline's answers stored as syrupy snapshots under `golden_snapshots/`.

One snapshot file per (test, baseline), e.g. `golden_snapshots/test_golden--baseline.json`,
holding the baseline's fingerprint (model hash + engine + flags) and one entry per case.
`--snapshot-update` re-records it from the baseline engine; any other run reads it, so a
candidate run never loads the baseline engine while the record matches the fingerprint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from . import atomic
from .errors import UsageError

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.data import SnapshotCollection, SnapshotCollections
    from syrupy.location import PyTestLocation

RECORD_FORMAT = 2
WRITE_FAILURES: list[str] = []  # records this process could not write (reported at the end)
SNAPSHOT_DIR = pytest.StashKey[Path]()  # set by the plugin from config / ini / rootdir
BASELINE_OF = pytest.StashKey[Mapping[str, str]]()  # candidate name -> its baseline's name, set by the plugin
SKIPPED_TESTS: set[str] = set()  # node ids of this process's gate tests that were skipped (set by the plugin)


class RecordError(UsageError):
    """A baseline record is missing or stale; the message names the command that fixes it."""


def snapshot_root(config: pytest.Config) -> Path:
    return config.stash[SNAPSHOT_DIR]


class BaselineRecordExtension(SingleFileSnapshotExtension):
    """Pretty JSON files in the project's snapshot folder, owned by the test that made them."""

    file_extension = "json"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return dump_json(data) + "\n"

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

    @classmethod
    def write_snapshot_collection(cls, *, snapshot_collection: "SnapshotCollection", name_order: Any = None) -> None:
        """syrupy writes with a plain open(path, "w"); a record is written whole or not at all.
        A failure is kept for the end of the run (syrupy writes after the tests): the old
        record stays byte-identical and the run fails with why."""
        path = Path(snapshot_collection.location)
        data = next(iter(snapshot_collection)).data
        if not isinstance(data, str):
            raise TypeError(f"a baseline record is JSON text, got {type(data).__name__}")
        try:
            atomic.write_text(path, data)
        except OSError as exc:
            WRITE_FAILURES.append(
                f"could not write baseline record {path} ({exc.strerror or exc}); the previous record is unchanged. "
                "Free disk space or fix the folder's permissions, then re-run with --snapshot-update"
            )

    def discover_snapshots(self, *, test_location: "PyTestLocation", ignore_extensions: Any = None) -> "SnapshotCollections":
        """Only records that a test of this session writes: syrupy would treat every other file
        in the folder as unused and delete it on --snapshot-update (other baselines' records,
        other tests' records)."""
        from syrupy.data import SnapshotCollections

        owned = _session_records(test_location.item.session)
        discovered = SnapshotCollections()
        for collection in super().discover_snapshots(test_location=test_location, ignore_extensions=ignore_extensions):
            if Path(collection.location).name in owned:
                discovered.add(collection)
        return discovered


def dump_json(data: Any, indent: int = 0) -> str:
    """Sorted, indented JSON whose lists of numbers stay on one line: readable diffs for
    answers, and log-prob tables that do not take a line per number."""
    pad = " " * (indent + 1)
    if isinstance(data, dict) and data:
        items = (f"{pad}{json.dumps(str(k))}: {dump_json(v, indent + 1)}" for k, v in sorted(data.items()))
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(data, (list, tuple)) and data:
        if all(_numeric(x) for x in data):
            return json.dumps(list(data), separators=(",", ":"))
        return "[\n" + ",\n".join(pad + dump_json(x, indent + 1) for x in data) + "\n" + " " * indent + "]"
    return json.dumps(data, ensure_ascii=False)


def _numeric(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_numeric(x) for x in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _session_records(session: pytest.Session) -> set[str]:
    """The record files the gate tests of this session that ran read or write. A skipped test
    (no lm-eval tasks configured, an engine this machine lacks) leaves its record unread: it is
    neither unused (which fails the run) nor deleted by --snapshot-update."""
    baseline_of = session.config.stash.get(BASELINE_OF, {})
    names = set()
    for item in session.items:
        if item.nodeid in SKIPPED_TESTS:
            continue
        callspec = getattr(item, "callspec", None)
        candidate = callspec.params.get("quant_candidate") if callspec else None
        baseline = baseline_of.get(getattr(candidate, "name", None))  # type: ignore[arg-type]
        if baseline is not None:
            names.add(f"{record_name(getattr(item, 'originalname', item.name), baseline)}.json")
    return names


def without_throughput_settings(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded fingerprint as it is compared today: records made before batch_size left the
    fingerprint carry it, and their answers are the same at any batch width."""
    flags = fingerprint.get("flags")
    if not isinstance(flags, Mapping) or not isinstance(flags.get("generation"), Mapping):
        return dict(fingerprint)
    generation = {k: v for k, v in flags["generation"].items() if k != "batch_size"}
    return {**fingerprint, "flags": {**flags, "generation": generation}}


def record_name(test_name: str, baseline: str) -> str:
    return f"{test_name}--{baseline}"


class BaselineRecords:
    """Reads or (re)writes the baseline's answers for one test through its syrupy snapshot."""

    def __init__(
        self,
        snapshot: "SnapshotAssertion",
        test_name: str,
        baseline: str,
        fingerprint: Mapping[str, Any],
        refresh: str = "pytest --quant-candidate=<candidate> --snapshot-update",
    ) -> None:
        self.snapshot = snapshot.use_extension(BaselineRecordExtension)
        self.name = record_name(test_name, baseline)
        self.baseline = baseline
        self.fingerprint = dict(fingerprint)
        self.refresh = refresh  # the command that re-records this file

    @property
    def updating(self) -> bool:
        return bool(self.snapshot.update_snapshots)

    def _recall(self) -> dict[str, Any] | None:
        data, _tainted = self.snapshot._recall_data(index=self.name)
        if data is None:
            return None
        try:
            record = json.loads(data)
        except ValueError as exc:
            raise RecordError(
                f"baseline record {self.name}.json is not valid JSON ({exc}; truncated or edited?); "
                f"re-record it: {self.refresh}"
            ) from exc
        if not isinstance(record, dict) or not isinstance(record.get("cases"), dict):
            raise RecordError(f"baseline record {self.name}.json has no 'cases' table (edited?); re-record it: {self.refresh}")
        return record

    def load_or_record(
        self,
        keys: Mapping[str, Any],
        run_baseline: Callable[[], Sequence[Any]],
        environment: Mapping[str, Any],
    ) -> tuple[list[Any], str]:
        """The baseline's results for these cases (JSON-able, in the order of `keys`) and where
        they came from. `keys[case_id]` is what the result depends on (the request); a
        record whose key differs is stale. `run_baseline` is called only when re-recording."""
        keys = json.loads(json.dumps(dict(keys)))  # tuples -> lists, as they read back
        if self.updating:
            results = list(run_baseline())
            written = {
                "format": RECORD_FORMAT,
                "baseline": self.baseline,
                "fingerprint": self.fingerprint,
                "environment": dict(environment),
                "cases": {cid: {"request": key, "result": res} for (cid, key), res in zip(keys.items(), results)},
            }
            self._check(written, "it could not be recorded")
            return results, "engine"
        record: dict[str, Any] | None = self._recall()
        hint = f"re-record it: {self.refresh}"
        if record is None:
            raise RecordError(
                f"no baseline record {self.name}.json for baseline {self.baseline!r} in "
                f"{snapshot_root(self.snapshot.test_location.item.config)}; {hint}"
            )
        recorded = without_throughput_settings(record.get("fingerprint") or {})
        if record.get("format") != RECORD_FORMAT or recorded != self.fingerprint:
            changed = sorted(k for k in {*recorded, *self.fingerprint} if recorded.get(k) != self.fingerprint.get(k))
            raise RecordError(
                f"baseline record {self.name}.json is stale: it was made for a different baseline "
                f"({', '.join(changed) or 'format'} changed: recorded {recorded}, now {self.fingerprint}); {hint}"
            )
        stale = [cid for cid, key in keys.items() if record["cases"].get(cid, {}).get("request") != key]
        if stale:
            raise RecordError(
                f"baseline record {self.name}.json has no answer for {len(stale)} case(s) "
                f"(new or changed: {', '.join(stale[:5])}); {hint}"
            )
        # Mark the snapshot as used (syrupy fails a session on unused snapshots); the record
        # is compared with its own canonical form, so a hand-edited file is caught here too.
        self._check(record, "it is not in canonical form (edited by hand?)")
        return [record["cases"][cid]["result"] for cid in keys], "record"

    def _check(self, record: Mapping[str, Any], problem: str) -> None:
        """Hand the record to syrupy (which queues it for writing on --snapshot-update and marks
        it as used otherwise); a mismatch is a record error, not a bare assertion."""
        matched = self.snapshot(name=self.name) == record
        if not matched:
            raise RecordError(f"baseline record {self.name}.json: {problem}; re-record it: {self.refresh}")
