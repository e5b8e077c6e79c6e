"""Test setup of dilemma-ssl: offline hub, seeded global RNG."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# --import-mode=importlib does not put test folders on sys.path; the shared tiny configs live here
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
