"""lm_eval: lm-evaluation-harness tasks (gsm8k, mmlu, ifeval, a team's own YAML tasks), each
decided by the paired rule over both models' per-sample scores."""

from ..registry import Gate
from .thresholds import LmEvalThresholds

GATE = Gate(
    name="lm_eval",
    help="lm-evaluation-harness tasks, paired per sample",
    runner="pytest_quantgate.gates.lm_eval.runner:run",
    settings=LmEvalThresholds,
)
