"""Label-free signals of a segmentor's target predictions.

For choosing a checkpoint without target labels: statistics of the
predicted class distributions p (fused over heads, as the model predicts)
on unlabelled target images, averaged over pixels x of all images:

- ``max_prob``: mean of max_c p_c(x) (confidence);
- ``entropy``: mean of -sum_c p_c(x) log p_c(x) / log C (normalised
  entropy in [0, 1]);
- ``head_disagreement``: fraction of pixels where argmax of the primary
  head's logits differs from argmax of the auxiliary head's (two
  classifiers: ``DualDeepLabV2Head`` or an ``auxiliary_head``);
- ``teacher_disagreement``: fraction of pixels where the student's and the
  momentum teacher's predicted classes differ (SAC).
"""
import math
from typing import Dict, Optional

import torch
import torch.nn as nn
from torch import Tensor

from ..models.uda.student_outputs import (_resize, forward_heads,
                                          fused_probabilities)


class SignalAccumulator:
    """Pixel-weighted running sums of :func:`image_signals`."""

    def __init__(self) -> None:
        self.sums: Dict[str, float] = {}
        self.pixels = 0

    def add(self, signals: Dict[str, Tensor], pixels: int) -> None:
        for k, v in signals.items():
            self.sums[k] = self.sums.get(k, 0.) + float(v) * pixels
        self.pixels += pixels

    def means(self) -> Dict[str, float]:
        return {k: v / max(self.pixels, 1) for k, v in self.sums.items()}


def _probs_and_heads(segmentor: nn.Module, inputs: Tensor):
    outputs = forward_heads(segmentor, inputs)
    size = inputs.shape[-2:]
    probs = fused_probabilities(segmentor, outputs, size).float()
    return probs, outputs


@torch.no_grad()
def image_signals(student: nn.Module,
                  inputs: Tensor,
                  teacher: Optional[nn.Module] = None) -> Dict[str, Tensor]:
    """Signals of one batch of normalised target images (N, 3, H, W).

    Args:
        student (nn.Module): The student segmentor (eval mode).
        inputs (Tensor): Preprocessed images.
        teacher (nn.Module, optional): The momentum teacher.

    Returns:
        dict[str, Tensor]: Pixel means of the batch (scalars).
    """
    probs, outputs = _probs_and_heads(student, inputs)
    num_classes = probs.shape[1]
    out = dict(
        max_prob=probs.max(dim=1).values.mean(),
        entropy=(-(probs * probs.clamp_min(1e-12).log()).sum(1) /
                 math.log(num_classes)).mean())
    if outputs.aux is not None:
        align = getattr(student.decode_head, 'align_corners', False)
        size = inputs.shape[-2:]
        primary = _resize(outputs.primary, size, align).argmax(1)
        aux = _resize(outputs.aux, size, align).argmax(1)
        out['head_disagreement'] = (primary != aux).float().mean()
    if teacher is not None:
        teacher_probs, _ = _probs_and_heads(teacher, inputs)
        out['teacher_disagreement'] = (
            probs.argmax(1) != teacher_probs.argmax(1)).float().mean()
    return out
