"""Config snippets shared by the plugin's tests."""

DEMO = "demo:smollm2-135m-instruct"


def demo_config(snapshot_dir: str | None = None, extra: str = "") -> str:
    """The repository's demo candidates, optionally reading records from `snapshot_dir`."""
    snap = f'snapshot_dir = "{snapshot_dir}"\n' if snapshot_dir else ""
    return f'''
baseline = "baseline"
{snap}
[candidates.baseline]
engine = "hf"
model = "{DEMO}"

[candidates.hf-int8]
engine = "hf"
model = "{DEMO}"
quantization.weights = {{ method = "torchao", dtype = "int8" }}

[candidates.hf-kv2]
engine = "hf"
model = "{DEMO}"
quantization.kv_cache = {{ method = "quanto", bits = 2 }}
{extra}
'''
