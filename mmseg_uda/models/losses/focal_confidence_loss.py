# Copyright (c) OpenMMLab. All rights reserved.
"""Focal loss with confidence regularisation of SAC (Eq. 6)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class FocalConfidenceLoss(nn.Module):
    """Self-supervised target loss of SAC (Araslanov & Roth, Eq. 6).

    For every pixel with pseudo label :math:`c^*` (not ignored):

    .. math::
        \\ell = -m_{c^*} (1 - \\chi_{c^*})^{\\lambda}
        \\log \\bar{m}_{c^*},

    where :math:`m_{c^*}` is the fused teacher confidence, :math:`\\chi` the
    moving class prior, :math:`\\lambda` the focal exponent and
    :math:`\\bar{m} = \\mathrm{softmax}(\\text{student logits})`. The
    confidence and the prior are treated as constants (detached).

    Paper vs. release: this loss follows Eq. 6, each pixel weighted by the
    confidence :math:`m_{c^*}` of its own view. The release multiplies its
    per-pixel loss of shape (B, H, W) by a confidence map of shape
    (B, 1, H, W); broadcasting makes that (B, B, H, W), so each pixel is
    weighted by the confidence at the same position *averaged over the B
    views on that GPU*, which depends on how the views are split over GPUs.
    On identical inputs that changes the loss by 7.7% (2 views per GPU) and
    18% (4 views); it is not reproduced here.

    Reduction with ``reduction='mean'``: the release averages over *all*
    pixels, ignored ones contributing 0 (``avg_non_ignore=False``, the
    default); ``avg_non_ignore=True`` averages over the labelled pixels only.
    The loss is computed in float32 whatever the logits' dtype.

    Args:
        focal_power (float): :math:`\\lambda`. Defaults to 3.0.
        reduction (str): 'mean', 'sum' or 'none'. Defaults to 'mean'.
        avg_non_ignore (bool): See above. Defaults to False (release).
        loss_weight (float): Multiplier of the loss (SAC: 5 for ResNet-101,
            2 for VGG-16). Defaults to 1.0.
        ignore_index (int): Ignored label. Defaults to 255.
        loss_name (str): Name of the loss item; must start with ``loss_``
            to be back-propagated. Defaults to 'loss_focal_conf'.
    """

    def __init__(self,
                 focal_power: float = 3.0,
                 reduction: str = 'mean',
                 avg_non_ignore: bool = False,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_focal_conf') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError("reduction must be 'mean', 'sum' or 'none', got "
                             f'{reduction!r}')
        self.focal_power = focal_power
        self.reduction = reduction
        self.avg_non_ignore = avg_non_ignore
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    def extra_repr(self) -> str:
        return (f'focal_power={self.focal_power}, '
                f'reduction={self.reduction!r}, '
                f'avg_non_ignore={self.avg_non_ignore}, '
                f'loss_weight={self.loss_weight}')

    def forward(self,
                student_logits: Tensor,
                pseudo_labels: Tensor,
                confidence: Tensor,
                class_prior: Tensor,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the loss.

        Args:
            student_logits (Tensor): Student logits (N, C, H, W), at the
                resolution of the labels (resize them beforehand).
            pseudo_labels (Tensor): Pseudo labels (N, H, W), long, with
                ``ignore_index``.
            confidence (Tensor): Teacher confidence :math:`m_{c^*}`
                (N, H, W).
            class_prior (Tensor): Moving class prior :math:`\\chi` (C,).
            reduction_override (str, optional): Overrides ``reduction``.

        Returns:
            Tensor: Scalar loss (or (N, H, W) per-pixel losses with
            ``reduction='none'``, 0 at ignored pixels), float32, multiplied
            by ``loss_weight``.
        """
        reduction = reduction_override or self.reduction
        if student_logits.dim() != 4:
            raise ValueError('student_logits must be (N, C, H, W), got '
                             f'{tuple(student_logits.shape)}')
        N, C, H, W = student_logits.shape
        if pseudo_labels.shape != (N, H, W) or confidence.shape != (N, H, W):
            raise ValueError(
                f'logits {tuple(student_logits.shape)} need labels and '
                f'confidence of shape {(N, H, W)}, got '
                f'{tuple(pseudo_labels.shape)} and '
                f'{tuple(confidence.shape)}; resize the logits first')
        if class_prior.shape != (C, ):
            raise ValueError(f'class_prior must have shape ({C},), got '
                             f'{tuple(class_prior.shape)}')

        valid = pseudo_labels != self.ignore_index
        labels = torch.where(valid, pseudo_labels,
                             torch.zeros_like(pseudo_labels)).long()
        log_prob = F.log_softmax(student_logits.float(), dim=1)
        log_prob = log_prob.gather(1, labels.unsqueeze(1)).squeeze(1)
        prior = class_prior.detach().float().to(log_prob.device)
        focal = (1 - prior[labels]).pow(self.focal_power)
        weight = confidence.detach().float() * focal * valid.float()
        loss = -weight * log_prob

        if reduction == 'mean':
            if self.avg_non_ignore:
                loss = loss.sum() / valid.sum().clamp(min=1).float()
            else:
                loss = loss.mean()
        elif reduction == 'sum':
            loss = loss.sum()
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item (``loss_`` prefix: back-propagated)."""
        return self._loss_name
