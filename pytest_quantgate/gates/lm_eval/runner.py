from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ...engines.base import Engine
from ...engines.lm_eval_models import LmEvalModel, lm_eval_model, require_lm_eval
from ...errors import Unavailable, UsageError
from ..context import GateContext
from ..verdict import GateVerdict
from . import decision
from .decision import SampleScore, TaskScores
from .thresholds import LmEvalThresholds

if TYPE_CHECKING:
    from ...config import CandidateSpec

BUILTIN_TASKS = Path(__file__).with_name("tasks")


def run(context: GateContext, thresholds: LmEvalThresholds | None = None) -> GateVerdict:
    """Each configured lm-eval task on both models (the baseline's per-sample scores from its
    record), decided per task by the paired rule."""
    limits: LmEvalThresholds = context.settings("lm_eval", thresholds)
    if not limits.tasks:
        raise Unavailable("no lm-eval tasks configured: set [gates.lm_eval] tasks = [...] (see the README's lm_eval gate)")
    require_lm_eval()
    tasks = TaskSet.resolve(limits, context.config.path.parent)

    def scores(spec: "CandidateSpec", engine: Callable[[], Engine]) -> list[dict[str, Any]]:
        model = lm_eval_model(spec, engine, lambda: context.served(spec), limits.batch_size, limits.apply_chat_template)
        return [t.to_dict() for t in tasks.evaluate(model, limits)]

    recorded = context.load_or_record(tasks.record_keys(limits), lambda: scores(context.baseline, context.baseline_engine))
    candidate = scores(context.candidate, context.candidate_engine)
    try:
        return decision.evaluate(
            [TaskScores.from_dict(r) for r in recorded], [TaskScores.from_dict(c) for c in candidate], limits
        )
    except decision.MismatchedSamples as exc:
        raise UsageError(str(exc)) from exc


class TaskSet:
    """The configured tasks as lm-eval's TaskManager knows them (its registry, the gate's
    built-in task folder, `include_path` folders and YAML files given by path)."""

    def __init__(self, names: list[str], manager: Any, yaml_paths: Mapping[str, Path]) -> None:
        self.names = names
        self.manager = manager
        self.yaml_paths = yaml_paths

    @classmethod
    def resolve(cls, limits: LmEvalThresholds, config_dir: Path) -> "TaskSet":
        from lm_eval.tasks import TaskManager

        folders = [BUILTIN_TASKS, *(config_dir / p for p in limits.include_path)]
        names = []
        for task in limits.tasks:
            path = config_dir / task
            if task.endswith((".yaml", ".yml")):
                if not path.is_file():
                    raise UsageError(f"gates.lm_eval.tasks: no task file {path}; give an lm-eval task name or a YAML path")
                folders.append(path.parent)
                names.append(_yaml_task_name(path))
            else:
                names.append(task)
        missing = [f for f in folders if not f.is_dir()]
        if missing:
            raise UsageError(f"gates.lm_eval.include_path: no folder {missing[0]}")
        # lm-eval's own registry (about 15,000 tasks, seconds to index) only when asked for.
        manager = TaskManager(include_path=[str(f) for f in folders], include_defaults=False)
        if any(n not in manager.all_tasks for n in names):
            manager = TaskManager(include_path=[str(f) for f in folders])
        unknown = [n for n in names if n not in manager.all_tasks]
        if unknown:
            raise UsageError(
                f"gates.lm_eval.tasks: lm-eval knows no task {', '.join(map(repr, unknown))}; "
                "check the name (python -m lm_eval ls tasks) or add its folder to include_path"
            )
        yaml_paths = {n: Path(p) for n in names if (p := getattr(manager.task_index[n], "yaml_path", None))}
        return cls(names, manager, yaml_paths)

    def record_keys(self, limits: LmEvalThresholds) -> dict[str, Any]:
        """What a task's recorded baseline scores depend on (the data itself is checked per
        sample by its hashes when the candidate is compared)."""
        from lm_eval import __version__

        settings = {k: getattr(limits, k) for k in ("limit", "num_fewshot", "apply_chat_template", "system_instruction")}
        return {
            name: {
                "lm_eval": __version__,
                "yaml_sha256": _digest(self.yaml_paths[name]) if name in self.yaml_paths else None,
                "metric": limits.metrics.get(name),
                **settings,
            }
            for name in self.names
        }

    def evaluate(self, model: LmEvalModel, limits: LmEvalThresholds) -> list[TaskScores]:
        from lm_eval import simple_evaluate

        results = simple_evaluate(
            model=model.lm,
            tasks=list(self.names),
            task_manager=self.manager,
            num_fewshot=limits.num_fewshot,
            limit=limits.limit,
            log_samples=True,
            apply_chat_template=limits.apply_chat_template,
            system_instruction=limits.system_instruction,
            gen_kwargs=dict(model.gen_kwargs) or None,
            bootstrap_iters=0,
            verbosity="ERROR",
        )
        scores = [_task_scores(name, results["samples"][name], limits.metrics.get(name)) for name in self.names]
        reported = results["results"]
        return [replace(s, reported=float(reported[s.task][s.metric]) if s.metric in reported[s.task] else None) for s in scores]


def _task_scores(task: str, samples: list[Mapping[str, Any]], metric: str | None) -> TaskScores:
    """The samples of one task under one metric and filter: lm-eval logs a sample once per
    filter, each holding the metric's value."""
    if not samples:
        raise UsageError(f"lm-eval task {task!r} logged no samples")
    name, _, filter_name = (metric or f"{samples[0]['metrics'][0]},{samples[0]['filter']}").partition(",")
    filter_name = filter_name or samples[0]["filter"]
    chosen = [s for s in samples if s["filter"] == filter_name and name in s]
    if not chosen:
        filters = sorted({f"{m},{s['filter']}" for s in samples for m in s["metrics"]})
        raise UsageError(f"gates.lm_eval.metrics: task {task!r} has no metric {name},{filter_name}; it has {', '.join(filters)}")
    scored = []
    for s in chosen:
        score = float(s[name])
        if score not in (0.0, 1.0):
            raise UsageError(
                f"lm-eval task {task!r}: {name},{filter_name} scored sample {s['doc_id']} {score}, not 0 or 1; "
                "the paired rule needs a pass/fail score per sample: choose one in gates.lm_eval.metrics"
            )
        response = s["filtered_resps"][0] if s["filtered_resps"] else ""
        scored.append(SampleScore(int(s["doc_id"]), score, s["doc_hash"], s["target_hash"], str(response)))
    return TaskScores(task, f"{name},{filter_name}", tuple(scored))


def _yaml_task_name(path: Path) -> str:
    import yaml
    from lm_eval.tasks._yaml_loader import load_yaml

    try:
        name = load_yaml(path, resolve_func=False).get("task")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"gates.lm_eval.tasks: {path} is not an lm-eval task YAML: {exc}") from exc
    if not isinstance(name, str):
        raise UsageError(f"gates.lm_eval.tasks: {path} names no task (its `task:` key)")
    return name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
