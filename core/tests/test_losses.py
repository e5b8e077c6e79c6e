"""Each loss against a direct (loop-based) formula on small float64 tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sparse_core.losses import (
    DINOLoss,
    IBOTPatchLoss,
    LogitScale,
    clip_loss,
    info_nce,
    koleo_loss,
    masked_feature_distill,
    sinkhorn_knopp,
    symmetric_info_nce,
    teacher_temp_schedule,
)

DT = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(a * a for a in v))
    return [a / n for a in v]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _nce_row(a: list[float], bs: list[list[float]], pos: int, tau: float) -> float:
    """-log softmax_j(a . b_j / tau)[pos] with plain Python floats."""
    logits = [_dot(a, b) / tau for b in bs]
    m = max(logits)
    lse = m + math.log(sum(math.exp(z - m) for z in logits))
    return lse - logits[pos]


def test_info_nce_matches_eq_3_3() -> None:
    g = _gen(0)
    q, k = torch.randn(6, 5, generator=g, dtype=DT), torch.randn(6, 5, generator=g, dtype=DT)
    tau = 0.2
    qs, ks = [_unit(r) for r in q.tolist()], [_unit(r) for r in k.tolist()]
    ref = 2 * tau * sum(_nce_row(qs[n], ks, n, tau) for n in range(6)) / 6
    assert info_nce(q, k, tau).item() == pytest.approx(ref, rel=1e-12)
    assert info_nce(q, k, tau, scale_by_tau=False).item() == pytest.approx(ref / (2 * tau), rel=1e-12)
    per = info_nce(q, k, tau, reduction="none")
    assert per.shape == (6,)
    assert per[2].item() == pytest.approx(2 * tau * _nce_row(qs[2], ks, 2, tau), rel=1e-12)


def test_info_nce_learnable_tau_gradient() -> None:
    g = _gen(1)
    q = torch.randn(5, 4, generator=g, dtype=DT, requires_grad=True)
    k = torch.randn(5, 4, generator=g, dtype=DT, requires_grad=True)
    tau = torch.tensor(0.3, dtype=DT, requires_grad=True)
    info_nce(q, k, tau).backward()
    got = (q.grad.clone(), k.grad.clone(), tau.grad.clone())
    q2, k2, tau2 = (t.detach().clone().requires_grad_(True) for t in (q, k, tau))
    qn, kn = q2 / q2.norm(dim=1, keepdim=True), k2 / k2.norm(dim=1, keepdim=True)
    rows = [2 * tau2 * -torch.log_softmax(qn[n] @ kn.t() / tau2, dim=0)[n] for n in range(5)]
    ref = torch.stack(rows).mean()
    ref.backward()
    for a, b in zip(got, (q2.grad, k2.grad, tau2.grad)):
        torch.testing.assert_close(a, b)


def test_symmetric_info_nce_matches_eq_4_2_to_4_4() -> None:
    g = _gen(2)
    a, b = torch.randn(7, 3, generator=g, dtype=DT), torch.randn(7, 3, generator=g, dtype=DT)
    tau = 0.1
    an, bn = [_unit(r) for r in a.tolist()], [_unit(r) for r in b.tolist()]
    ref = sum(_nce_row(an[i], bn, i, tau) + _nce_row(bn[i], an, i, tau) for i in range(7)) / 7
    assert symmetric_info_nce(a, b, tau).item() == pytest.approx(ref, rel=1e-12)
    scaled = symmetric_info_nce(a, b, tau, scale_by_tau=True).item()
    assert scaled == pytest.approx(2 * tau * ref, rel=1e-12)


def test_clip_loss_matches_eq_7_1_and_logit_scale() -> None:
    g = _gen(3)
    img, txt = torch.randn(5, 4, generator=g, dtype=DT), torch.randn(5, 4, generator=g, dtype=DT)
    scale = 1 / 0.07
    i_n, t_n = [_unit(r) for r in img.tolist()], [_unit(r) for r in txt.tolist()]
    tau = 1 / scale
    i2t = sum(_nce_row(i_n[i], t_n, i, tau) for i in range(5)) / 5
    t2i = sum(_nce_row(t_n[i], i_n, i, tau) for i in range(5)) / 5
    assert clip_loss(img, txt, scale).item() == pytest.approx(i2t + t2i, rel=1e-10)
    averaged = clip_loss(img, txt, scale, average_directions=True).item()
    assert averaged == pytest.approx((i2t + t2i) / 2, rel=1e-10)

    ls = LogitScale().double()
    assert ls().item() == pytest.approx(1 / 0.07)
    clip_loss(img, txt, ls()).backward()
    s = ls.log_scale.detach().clone().requires_grad_(True)
    imn, txn = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    logits = s.exp() * imn @ txn.t()
    labels = torch.arange(5)
    (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)).backward()
    torch.testing.assert_close(ls.log_scale.grad, s.grad)
    with torch.no_grad():
        ls.log_scale.fill_(10.0)
    assert ls().item() == pytest.approx(100.0)


def _dino_reference(student: torch.Tensor, teacher: torch.Tensor, center: torch.Tensor, t_temp: float,
                    s_temp: float) -> float:
    """Loop over view pairs (v != w) and samples: softmax((t - c) / T_t) vs log_softmax(s / T_s)."""
    total, n_terms = 0.0, 0
    for v in range(teacher.shape[0]):
        for w in range(student.shape[0]):
            if v == w:
                continue
            term = 0.0
            for i in range(teacher.shape[1]):
                t_logits = [(a - c) / t_temp for a, c in zip(teacher[v, i].tolist(), center.tolist())]
                m = max(t_logits)
                z = sum(math.exp(x - m) for x in t_logits)
                p_t = [math.exp(x - m) / z for x in t_logits]
                s_logits = [a / s_temp for a in student[w, i].tolist()]
                ms = max(s_logits)
                lse = ms + math.log(sum(math.exp(x - ms) for x in s_logits))
                term += -sum(p * (s - lse) for p, s in zip(p_t, s_logits))
            total += term / teacher.shape[1]
            n_terms += 1
    return total / n_terms


def test_dino_loss_centering_and_center_update() -> None:
    g = _gen(4)
    k = 6
    student = torch.randn(4, 3, k, generator=g, dtype=DT)  # 2 global + 2 local crops
    teacher = torch.randn(2, 3, k, generator=g, dtype=DT)
    loss_fn = DINOLoss(k, student_temp=0.1, center_momentum=0.9).double()
    c0 = torch.randn(k, generator=g, dtype=DT)
    loss_fn.center.copy_(c0)
    loss = loss_fn(student, teacher, teacher_temp=0.04)
    assert loss.item() == pytest.approx(_dino_reference(student, teacher, c0, 0.04, 0.1), rel=1e-10)
    c1 = 0.9 * c0 + 0.1 * teacher.reshape(-1, k).mean(dim=0)
    torch.testing.assert_close(loss_fn.center[0], c1)
    # the second call uses the updated center; a list of views gives the same as a stacked tensor
    loss2 = loss_fn(list(student), list(teacher), teacher_temp=0.05)
    assert loss2.item() == pytest.approx(_dino_reference(student, teacher, c1, 0.05, 0.1), rel=1e-10)
    frozen = loss_fn.center.clone()
    loss_fn(student, teacher, 0.05, update=False)
    torch.testing.assert_close(loss_fn.center, frozen)


def test_dino_loss_student_gradient_only() -> None:
    g = _gen(5)
    s = torch.randn(3, 4, 8, generator=g, requires_grad=True)
    t = torch.randn(2, 4, 8, generator=g, requires_grad=True)
    DINOLoss(8)(s, t, 0.04).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    assert t.grad is None
    with pytest.raises(ValueError):
        DINOLoss(8)(s, t, 0.04, centering="nope")


def _sinkhorn_reference(logits: torch.Tensor, temp: float, iters: int) -> torch.Tensor:
    q = torch.exp(logits / temp).t()
    n, k = q.shape[1], q.shape[0]
    q = q / q.sum()
    for _ in range(iters):
        q = q / q.sum(dim=1, keepdim=True) / k
        q = q / q.sum(dim=0, keepdim=True) / n
    return (q * n).t()


def test_sinkhorn_knopp_marginals_and_reference() -> None:
    g = _gen(6)
    logits = torch.randn(12, 5, generator=g, dtype=DT)
    out = sinkhorn_knopp(logits, 0.1, n_iterations=3)
    torch.testing.assert_close(out, _sinkhorn_reference(logits, 0.1, 3))
    torch.testing.assert_close(out.sum(dim=1), torch.ones(12, dtype=DT))  # each sample is a distribution
    converged = sinkhorn_knopp(logits, 1.0, n_iterations=200)
    torch.testing.assert_close(converged.sum(dim=1), torch.ones(12, dtype=DT))
    torch.testing.assert_close(converged.sum(dim=0), torch.full((5,), 12 / 5, dtype=DT), atol=1e-6, rtol=0)
    # low temperatures do not overflow (the logits are shifted by their maximum)
    assert torch.isfinite(sinkhorn_knopp(logits * 50, 0.04)).all()


def test_dino_loss_sinkhorn_uses_sinkhorn_targets() -> None:
    g = _gen(7)
    student = torch.randn(2, 5, 4, generator=g, dtype=DT)
    teacher = torch.randn(2, 5, 4, generator=g, dtype=DT)
    loss_fn = DINOLoss(4).double()
    targets = _sinkhorn_reference(teacher.reshape(-1, 4), 0.07, 3).reshape(2, 5, 4)
    ref = 0.0
    for v, w in ((0, 1), (1, 0)):
        ref += -(targets[v] * torch.log_softmax(student[w] / 0.1, dim=-1)).sum(-1).mean().item()
    assert loss_fn(student, teacher, 0.07, centering="sinkhorn").item() == pytest.approx(ref / 2, rel=1e-10)
    assert loss_fn.center.abs().sum() == 0  # the center is not touched by Sinkhorn


def test_teacher_temp_schedule() -> None:
    assert teacher_temp_schedule(0, 10, 0.04, 0.07) == pytest.approx(0.04)
    assert teacher_temp_schedule(5, 10, 0.04, 0.07) == pytest.approx(0.055)
    assert teacher_temp_schedule(10, 10, 0.04, 0.07) == pytest.approx(0.07)
    assert teacher_temp_schedule(99, 10, 0.04, 0.07) == pytest.approx(0.07)
    assert teacher_temp_schedule(0, 0, 0.04, 0.07) == pytest.approx(0.07)


def test_ibot_patch_loss_per_sample_mask_weights() -> None:
    g = _gen(8)
    b, n, k = 3, 4, 5
    s = torch.randn(b, n, k, generator=g, dtype=DT)
    t = torch.randn(b, n, k, generator=g, dtype=DT)
    mask = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=torch.bool)
    loss_fn = IBOTPatchLoss(k, student_temp=0.1, center_momentum=0.8).double()
    c0 = torch.randn(k, generator=g, dtype=DT)
    loss_fn.center.copy_(c0)
    loss = loss_fn(s, t, mask, teacher_temp=0.05)
    ref = 0.0
    for i in range(b):
        idx = [j for j in range(n) if mask[i, j]]
        for j in idx:  # mean over the sample's masked tokens
            p_t = torch.softmax((t[i, j] - c0) / 0.05, dim=0)
            ref += -(p_t * torch.log_softmax(s[i, j] / 0.1, dim=0)).sum().item() / len(idx)
    assert loss.item() == pytest.approx(ref / b, rel=1e-10)  # mean over all samples, empty ones included
    masked_t = t[mask]
    torch.testing.assert_close(loss_fn.center[0], 0.8 * c0 + 0.2 * masked_t.mean(dim=0))
    # forward_masked on pre-selected tokens is the same computation
    loss_fn.center.copy_(c0)
    same = loss_fn.forward_masked(s[mask], t[mask], mask, 0.05)
    assert same.item() == pytest.approx(loss.item(), rel=1e-12)
    sk = loss_fn(s, t, mask, 0.05, centering="sinkhorn", update=False)
    targets = _sinkhorn_reference(masked_t, 0.05, 3)
    per = -(targets * torch.log_softmax(s[mask] / 0.1, dim=-1)).sum(-1)
    w = torch.tensor([1 / 3] * 3 + [1.0], dtype=DT)
    assert sk.item() == pytest.approx((per * w).sum().item() / b, rel=1e-10)


def test_koleo_matches_brute_force() -> None:
    g = _gen(9)
    x = torch.randn(7, 3, generator=g, dtype=DT, requires_grad=True)
    loss = koleo_loss(x)
    xs = [_unit(r) for r in x.tolist()]
    ref = 0.0
    for i in range(7):
        d = min(math.dist(xs[i], xs[j]) for j in range(7) if j != i)
        ref += -math.log(d + 1e-8)
    assert loss.item() == pytest.approx(ref / 7, rel=1e-10)
    loss.backward()
    x2 = x.detach().clone().requires_grad_(True)
    xn = x2 / x2.norm(dim=1, keepdim=True)
    dmat = torch.cdist(xn, xn) + torch.eye(7, dtype=DT) * 10
    (-torch.log(dmat.min(dim=1).values + 1e-8)).mean().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def _layer_norm_ref(v: list[float], eps: float) -> list[float]:
    m = sum(v) / len(v)
    var = sum((a - m) ** 2 for a in v) / len(v)
    return [(a - m) / math.sqrt(var + eps) for a in v]


def test_masked_feature_distill_matches_eq_7_2() -> None:
    g = _gen(10)
    s = torch.randn(2, 3, 4, generator=g, dtype=DT, requires_grad=True)
    t = torch.randn(2, 3, 4, generator=g, dtype=DT) * 5 + 2
    mask = torch.tensor([[True, False, True], [False, False, True]])
    per = {}
    for i in range(2):
        for j in range(3):
            tn = _layer_norm_ref(t[i, j].tolist(), 1e-6)
            per[i, j] = sum((a - b) ** 2 for a, b in zip(s[i, j].tolist(), tn)) / 4  # ||.||^2 / D
    assert masked_feature_distill(s, t).item() == pytest.approx(sum(per.values()) / 6, rel=1e-10)
    sel = [per[i, j] for i in range(2) for j in range(3) if mask[i, j]]
    loss = masked_feature_distill(s, t, mask)
    assert loss.item() == pytest.approx(sum(sel) / 3, rel=1e-10)
    loss.backward()
    assert s.grad is not None and (s.grad[~mask] == 0).all() and s.grad[mask].abs().sum() > 0
    tn = F.layer_norm(t, (4,), eps=1e-6)
    sl1 = F.smooth_l1_loss(s.detach(), tn, reduction="none", beta=0.5).mean()
    got = masked_feature_distill(s, t, loss="smooth_l1", beta=0.5).item()
    assert got == pytest.approx(sl1.item(), rel=1e-10)
    with pytest.raises(ValueError):
        masked_feature_distill(s, t[:, :2])


def test_losses_accept_low_precision_inputs() -> None:
    g = _gen(11)
    q = torch.randn(4, 8, generator=g).bfloat16().requires_grad_(True)
    k = torch.randn(4, 8, generator=g).bfloat16()
    loss = info_nce(q, k) + clip_loss(q, k, 10.0) + koleo_loss(q)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert q.grad is not None and q.grad.dtype == torch.bfloat16


def test_ibot_without_masked_tokens_is_zero_and_keeps_center() -> None:
    loss_fn = IBOTPatchLoss(5)
    loss_fn.center.fill_(0.5)
    s = torch.randn(2, 3, 5, requires_grad=True)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    loss = loss_fn(s, torch.randn(2, 3, 5), mask, 0.04)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(loss_fn.center == 0.5)
