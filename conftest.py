"""The repository's own test wiring (the plugin itself is loaded through its entry point)."""



import os

import pytest

from pytest_quantgate.models import default_cache_dir

# pytester points HOME at a temporary folder; keep the converted demo model's cache shared.
os.environ.setdefault("QUANTGATE_CACHE_DIR", str(default_cache_dir()))

REPO = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def repo_snapshots() -> str:
    """The demo's committed baseline records (read-only: copy them before updating)."""
    return os.path.join(REPO, "golden_snapshots")
