"""The fast tier: no model is loaded (pytest -m "not slow")."""
