"""Point the datasets at ../shared/data when AUTOGRAD_DATA is not set, as `make test` does, so a
plain `pytest` (and the notebooks it runs) reads the local copies instead of downloading."""

import os
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"

if not os.environ.get("AUTOGRAD_DATA") and SHARED_DATA.is_dir():
    os.environ["AUTOGRAD_DATA"] = str(SHARED_DATA)
