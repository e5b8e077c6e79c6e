"""pytest configuration of the sfclip tests: offline hub, and ``sfclip_test_utils`` importable under
``--import-mode=importlib`` (which does not put test folders on ``sys.path``)."""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
