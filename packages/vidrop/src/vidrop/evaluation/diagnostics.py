"""Training diagnostics: do the two large clips of a video share something the network can see?

:func:`partner_cross_entropy` is the DINO CLS loss of one global-global pair, once against the true partner
(the other large clip of the same video) and once against a shuffled partner (the other large clip of
another video). When the two are equal the teacher's assignment of the partner clip carries no information
about the student's clip, and the CLS loss can only sit at its hedging value (about ln K): a plateau to
explain with the data, not with the training length (issue 25; ``tools/collapse_probe.py`` prints it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vidrop.task import ViDROPTask

__all__ = ["partner_cross_entropy"]


@torch.no_grad()
def partner_cross_entropy(task: ViDROPTask, glob: Tensor, teacher_temp: float | None = None,
                          chunk: int = 64) -> dict[str, float]:
    """Cross-entropy ``H(P_t(x_j^a), P_s(x_i^b))`` of the student's clip ``b`` of video ``i`` against the teacher's
    clip ``a`` of video ``j`` (``a != b``, both orders averaged), for the true partner ``j = i`` and for a
    shuffled partner (the mean over every ``j != i``: the expectation over a random permutation).

    The teacher targets use the loss' own normalisation (``loss.centering``: Sinkhorn-Knopp over both views
    jointly, or the current softmax centre) at ``teacher_temp``; the student sees the dense clips (no token
    drop or mask, so the number does not depend on a token draw) at ``loss.student_temp``. Train / eval mode
    of the task is restored.

    Args:
        task: a ViDROP task (teacher and student heads).
        glob: the large clips of ``B >= 2`` videos.
        teacher_temp: teacher temperature (default: the task's at step 0, i.e. the warm-up start).
        chunk: videos per forward pass.

    Shape:
        glob ``(B, 2, 3, T, S, S)``.

    Returns:
        ``{"partner_ce", "shuffled_ce", "gap", "gap_se", "ln_k"}``: nats; ``gap = shuffled_ce - partner_ce`` (> 0
        when the views share a cue the network sees), ``gap_se`` its standard error over the ``B`` videos (a gap
        within about 2 of them is noise), ``ln_k`` the uniform prediction's value.
    """
    b, g = glob.shape[:2]
    if g != 2 or b < 2:
        raise ValueError(f"need (B >= 2, 2 large clips, ...), got {tuple(glob.shape)}")
    temp = task.teacher_temp(0) if teacher_temp is None else teacher_temp
    was_training = task.training
    task.eval()
    teacher, student = task.teacher.module, task.student
    t_out, s_out = [], []
    for i in range(0, b, chunk):
        x = glob[i:i + chunk].transpose(0, 1).flatten(0, 1)  # (2 * b_i, 3, T, S, S), view-major
        n = x.shape[0] // 2
        t_out.append(teacher["dino_head"](teacher["backbone"](x)[0]).view(2, n, -1))
        s_out.append(student["dino_head"](student["backbone"](x)[0]).view(2, n, -1))
    task.train(was_training)
    t_logits, s_logits = torch.cat(t_out, 1), torch.cat(s_out, 1)  # (2, B, K)
    targets = task.dino_loss.teacher_targets(t_logits, temp, task.loss_cfg.centering)  # (2, B, K)
    log_p = F.log_softmax(s_logits.float() / task.loss_cfg.student_temp, dim=-1)
    ce = -0.5 * (log_p[1] @ targets[0].T + log_p[0] @ targets[1].T)  # (B, B): student video i, teacher video j
    partner = ce.diagonal()  # (B,)
    shuffled = (ce.sum(1) - partner) / (b - 1)  # (B,) mean over j != i
    gap = shuffled - partner
    return {"partner_ce": float(partner.mean()), "shuffled_ce": float(shuffled.mean()), "gap": float(gap.mean()),
            "gap_se": float(gap.std() / b ** 0.5), "ln_k": float(torch.log(torch.tensor(float(t_logits.shape[-1]))))}
