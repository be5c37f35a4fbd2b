"""Gates, one folder each: settings (`thresholds.py`), the pure decision (`decision.py`:
cases, baseline results, candidate results, settings -> verdict), the runner that asks the
engines and records for those results (`runner.py`), its inputs and built-in cases, and its
registry entry (`GATE` in `__init__.py`). Shared decision helpers live in `common/`."""
