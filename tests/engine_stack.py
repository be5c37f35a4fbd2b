"""Imported first by the real-engine test modules (slow tier).

pytester's in-process runs restore sys.modules when they end, so anything first imported
inside one is imported again by the next; torch and quanto's kernels must not be. Importing
the engine stack here keeps a single copy for the whole process.
"""

import pytest

pytest.importorskip("torch")

import httpcore  # noqa: E402,F401  (httpx maps httpcore's exceptions by class identity)
import httpx  # noqa: E402,F401
import optimum.quanto  # noqa: E402,F401
import torchao.quantization  # noqa: E402,F401
import transformers.cache_utils  # noqa: E402,F401
import transformers.generation.utils  # noqa: E402,F401
import transformers.models.llama.modeling_llama  # noqa: E402,F401
import xgrammar.contrib.hf  # noqa: E402,F401

try:  # bitsandbytes loads its native library once; peft wraps quantized layers by class identity
    import bitsandbytes  # noqa: E402,F401
    import peft  # noqa: E402,F401
except ImportError:  # pragma: no cover - the bitsandbytes / adapters extras are not installed
    pass

try:  # the lm_eval gate: datasets registers pyarrow extension types once per process
    import lm_eval.evaluator  # noqa: E402,F401
    import lm_eval.models.huggingface  # noqa: E402,F401
    import lm_eval.tasks  # noqa: E402,F401
except ImportError:  # pragma: no cover - the lm-eval extra is not installed
    pass

import pytest_quantgate.engines.hf  # noqa: E402,F401
import pytest_quantgate.engines.openai  # noqa: E402,F401
