"""The real-engine tier: the embedded demo model on real engines (pytest -m slow; -m vllm in tox -e vllm)."""
