"""sfclip.evaluation metrics against direct formulas: retrieval recall, zero-shot, mIoU, probe, translations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sfclip.data import COLOURS
from sfclip.evaluation import (
    bn_linear_probe,
    class_embeddings,
    dense_predict,
    held_out_pairs,
    mean_iou,
    recall_at_k,
    retrieval_scores,
    same_caption,
    topk_accuracy,
    translate,
    zero_shot_scores,
)


def _recall_by_loops(sim: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """R@k written out: sort each row, is any relevant item among the first k (ties broken for the query)?"""
    found = 0
    for q in range(sim.shape[0]):
        best = max(sim[q, j].item() for j in range(sim.shape[1]) if relevant[q, j])
        above = sum(1 for j in range(sim.shape[1]) if sim[q, j].item() > best)
        found += above < k
    return 100.0 * found / sim.shape[0]


def test_recall_matches_the_written_out_ranking_on_random_embeddings() -> None:
    g = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(30, 8, generator=g), dim=-1)
    txt = F.normalize(img + 0.8 * torch.randn(30, 8, generator=g), dim=-1)
    r = retrieval_scores(img, txt)
    sim = img @ txt.T
    eye = torch.eye(30, dtype=torch.bool)
    for k in (1, 5, 10):
        assert r[f"i2t_R@{k}"] == pytest.approx(_recall_by_loops(sim, eye, k))
        assert r[f"t2i_R@{k}"] == pytest.approx(_recall_by_loops(sim.T, eye, k))
    assert r["mean_R"] == pytest.approx(sum(v for k, v in r.items() if k != "mean_R") / 6)
    assert 0 < r["i2t_R@1"] < r["i2t_R@10"] <= 100


def test_recall_on_a_hand_built_case() -> None:
    # image 0 matches text 0 best; image 1's text ranks second; image 2's text ranks last of three
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.1], [0.7, 0.6, 0.2]])
    assert recall_at_k(sim, torch.eye(3, dtype=torch.bool), ks=(1, 2, 3)) == pytest.approx(
        {1: 100 / 3, 2: 200 / 3, 3: 100.0})
    with pytest.raises(ValueError, match="relevant"):
        recall_at_k(sim, torch.zeros(3, 3, dtype=torch.bool))


def test_same_caption_relevance_and_duplicate_captions() -> None:
    rel = same_caption(["a", "b", "a"], ["a", "b"])
    assert rel.tolist() == [[True, False], [False, True], [True, False]]
    img = torch.eye(3)[[0, 1, 0]]  # images 0 and 2 look the same and share caption "a"
    r = retrieval_scores(img, torch.eye(3)[:2], rel)
    assert r["i2t_R@1"] == 100.0 and r["t2i_R@1"] == 100.0


def test_zero_shot_prompt_ensemble_and_known_answer() -> None:
    classes = ["cat", "dog", "car"]
    templates = ["a {}", "a photo of a {}"]
    table = {f"a {c}": torch.eye(3)[i] + 0.1 for i, c in enumerate(classes)}
    table |= {f"a photo of a {c}": torch.eye(3)[i] - 0.1 for i, c in enumerate(classes)}

    def encode(captions: list[str]) -> torch.Tensor:
        return F.normalize(torch.stack([table[c] for c in captions]), dim=-1)

    cls = class_embeddings(encode, classes, templates)
    direct = F.normalize(torch.stack([(encode([f"a {c}"])[0] + encode([f"a photo of a {c}"])[0]) / 2
                                      for c in classes]), dim=-1)
    assert torch.allclose(cls, direct)
    images = F.normalize(torch.eye(3)[[2, 0, 1, 1]] + 0.05, dim=-1)  # car, cat, dog, dog
    labels = torch.tensor([2, 0, 1, 0])  # the last one is wrong on purpose
    scores = zero_shot_scores(images, labels, cls, ks=(1, 2))
    assert scores["top1"] == 75.0 and scores["top2"] == 100.0


def test_topk_accuracy_against_a_direct_count() -> None:
    g = torch.Generator().manual_seed(1)
    logits, labels = torch.randn(50, 7, generator=g), torch.randint(0, 7, (50,), generator=g)
    top3 = logits.topk(3, dim=1).indices
    direct = 100.0 * sum(int(labels[i] in top3[i]) for i in range(50)) / 50
    assert topk_accuracy(logits, labels, ks=(3, 20)) == pytest.approx({3: direct, 20: 100.0})


def test_mean_iou_against_a_hand_count() -> None:
    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 0, 0, 1]]])
    # class 0: inter 3, union 5; class 1: inter 3, union 5; class 2 absent everywhere
    r = mean_iou(pred, target, num_classes=3)
    assert r["mIoU"] == pytest.approx(60.0) and r["pixel_acc"] == pytest.approx(75.0)


def test_dense_predict_upsamples_the_best_class_per_token() -> None:
    cls = torch.eye(3)
    tokens = torch.eye(3)[torch.tensor([[0, 1], [2, 0]])].unsqueeze(0)  # (1, 2, 2, 3)
    pred = dense_predict(tokens, cls, (4, 4))
    assert pred.shape == (1, 4, 4)
    assert pred[0, :2, :2].eq(0).all() and pred[0, :2, 2:].eq(1).all() and pred[0, 2:, :2].eq(2).all()


def test_bn_linear_probe_learns_a_separable_problem() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=g) * 3

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % 3
        return centres[y] + torch.randn(n, 16, generator=g), y

    (xtr, ytr), (xte, yte) = sample(150), sample(60)
    r = bn_linear_probe(xtr, ytr, xte, yte, epochs=20)
    assert r["linear_top1"] > 90.0
    shuffled = bn_linear_probe(xtr, ytr[torch.randperm(150, generator=g)], xte, yte, epochs=20)
    assert shuffled["linear_top1"] < 70.0


def test_translations_agree_in_gender() -> None:
    assert translate("red", "square", "de") == "ein rotes Quadrat"
    assert translate("red", "circle", "de") == "ein roter Kreis"
    assert translate("white", "star", "fr") == "une étoile blanche"
    assert translate("black", "cross", "es") == "una cruz negra"
    assert translate("blue", "circle", "en") == "a blue circle"


def test_held_out_pairs_masks_are_the_shape_pixels() -> None:
    pairs = held_out_pairs(12, 32, seed=5)
    names = list(COLOURS)
    for i in range(12):
        rgb = torch.tensor(COLOURS[names[int(pairs.colour[i])]]).view(3, 1, 1)
        assert pairs.captions[i] == f"a {names[int(pairs.colour[i])]} " + pairs.captions[i].split(" ")[2]
        inside = pairs.masks[i]
        assert 0 < int(inside.sum()) < 32 * 32
        assert (pairs.images[i][:, inside] == rgb.view(3, 1)).all()
        assert not (pairs.images[i][:, ~inside] == rgb.view(3, 1)).all(dim=0).any()
    assert pairs.label.max() < 40
