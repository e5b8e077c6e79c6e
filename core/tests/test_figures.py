"""The demo figure: loss curves from a metrics.jsonl beside grouped bars."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from sparse_core.figures import learning_figure


def test_learning_figure_writes_a_png_and_skips_absent_keys(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / (s + 1)}) for s in range(5)) + "\n")
    out = learning_figure(tmp_path / "fig.png", log, ("loss", "never_logged"), "loss",
                          {"random init": [20.0, 25.0], "trained": [40.0, 45.0]}, ["k-NN", "linear"], 12.5, "probes")
    assert out == tmp_path / "fig.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] > 100
