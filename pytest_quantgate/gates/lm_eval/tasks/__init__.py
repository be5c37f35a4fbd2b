"""lm-eval tasks shipped with the lm_eval gate (its include_path always holds this folder)."""
