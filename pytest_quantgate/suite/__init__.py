"""The built-in gate suite: collected by `pytest --quant-candidate=NAME` (see --quantgate-suite)."""
