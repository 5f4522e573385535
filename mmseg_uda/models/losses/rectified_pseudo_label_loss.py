# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Pseudo-label loss rectified by the prediction variance (Zheng & Yang,
"Rectifying Pseudo Label Learning via Uncertainty Estimation for Domain
Adaptive Semantic Segmentation", IJCV 2021)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS
from .class_balanced_ce import ClassBalancedCrossEntropyLoss
from .hard_pixel_selection import hard_pixel_labels


@MODELS.register_module()
class RectifiedPseudoLabelLoss(nn.Module):
    """Cross-entropy on pseudo labels, down-weighted where the two
    classifiers disagree, plus the disagreement itself.

    The optional stage-II variant of MRNet: the discrepancy between the
    primary and the auxiliary classifier estimates the prediction variance
    (uncertainty) of every pixel; the pseudo-label cross-entropy of uncertain
    pixels is attenuated and the variance is minimised. With
    :math:`p_p = \\mathrm{softmax}(z_p)`, :math:`p_a = \\mathrm{softmax}(z_a)`
    and the pseudo label :math:`y`, per pixel :math:`i`:

    .. math::
        D_i = KL(p_a^i \\| p_p^i)
            = \\sum_c p_{a,c}^i (\\log p_{a,c}^i - \\log p_{p,c}^i)

    .. math::
        L_{rect} = \\frac{1}{|V|} \\sum_{i \\in V}
            \\exp(-D_i)\\, CE(z_p^i, y_i) + D_i,
        \\qquad CE(z_p^i, y_i) = -\\log p_{p, y_i}^i

    where :math:`V` is the set of pixels with :math:`y_i \\neq`
    ``ignore_index`` over the whole batch (the loss is 0 when it is empty).
    Gradients flow through every term, :math:`D_i` included (no detach):
    the product term alone would reward disagreement, the additive
    :math:`D_i` keeps the variance small. With ``aux_weight``
    :math:`w > 0` the same rule is also applied to the auxiliary classifier
    with the roles swapped
    (:math:`D^a_i = KL(p_p^i \\| p_a^i)` weights :math:`CE(z_a^i, y_i)`)
    and added with weight :math:`w` (0.5 mirrors :math:`L_{pseg} = L^p +
    0.5 L^a`). The result is multiplied by ``loss_weight``.

    Release options (``train_ft.py`` of layumi/Seg-Uncertainty, flags
    ``--class-balance --often-balance --max-value 7 --only-hard-label 80``):

    - ``class_balance``: the cross-entropy of pixel :math:`i` is weighted by
      the batch-adaptive class weight :math:`w_{y_i}` of
      :class:`ClassBalancedCrossEntropyLoss` (rare classes x7, moving
      "absent class" weight), :math:`CE_i \to w_{y_i} CE_i`; the weights
      come from the full pseudo labels, updated once per iteration.
    - ``hard_percentile`` q: for each classifier, pixels whose (weighted)
      cross-entropy is below the q-th percentile of the batch's pixel
      losses are ignored (:func:`hard_pixel_labels`), before the terms
      above and before counting :math:`|V|`.

    Where the release differs and this loss does not follow it: the
    revision of ``trainer_ms_variance.py`` at commit 32121d3 divides the
    cross-entropy by :math:`D_i / C + 10^{-6}` instead of multiplying by
    :math:`\exp(-D_i)` and averages over all pixels, ignored ones included;
    this loss implements the IJCV paper's :math:`\exp(-D_i)` form with the
    mean over :math:`V`.

    Logits are bilinearly resized to the label size first (``align_corners``
    True as in the papers) and everything is computed in float32 with
    ``log_softmax``.

    The loss needs both classifiers at once: call it as
    ``loss(primary_logits, aux_logits, pseudo_label)`` on the pseudo-labelled
    batch in place of the heads' own ``loss_decode`` (it is not a drop-in
    ``loss_decode`` of a single head).

    Args:
        aux_weight (float): Weight :math:`w` of the swapped term of the
            auxiliary classifier. Defaults to 0 (the formula above only).
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        align_corners (bool): Of the resize to the label size.
            Defaults to True.
        class_balance (dict, optional): Arguments of
            :class:`ClassBalancedCrossEntropyLoss` (``num_classes`` required,
            e.g. ``dict(num_classes=19, max_weight=7.)``) whose class weights
            weight the cross-entropy. Defaults to None (unweighted).
        hard_percentile (float, optional): Keep only pixels whose loss is at
            least this percentile (0-100) of the batch's pixel losses
            (release: 80). Defaults to None (all pixels).
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item. Defaults to 'loss_rect'.
    """

    def __init__(self,
                 aux_weight: float = 0.0,
                 ignore_index: int = 255,
                 align_corners: bool = True,
                 class_balance: Optional[dict] = None,
                 hard_percentile: Optional[float] = None,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_rect') -> None:
        super().__init__()
        if aux_weight < 0:
            raise ValueError(f'aux_weight must be >= 0, got {aux_weight}')
        if hard_percentile is not None and not 0 <= hard_percentile <= 100:
            raise ValueError('RectifiedPseudoLabelLoss: hard_percentile must '
                             f'be in [0, 100], got {hard_percentile}')
        self.hard_percentile = hard_percentile
        # only its class weights are used (not its forward)
        self.class_balance = ClassBalancedCrossEntropyLoss(
            **class_balance) if class_balance is not None else None
        self.aux_weight = aux_weight
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def extra_repr(self) -> str:
        """Extra repr."""
        return (f'aux_weight={self.aux_weight}, '
                f'ignore_index={self.ignore_index}, '
                f'hard_percentile={self.hard_percentile}, '
                f'loss_weight={self.loss_weight}')

    def _prepare(self, logits: Tensor, size: Tuple[int, int]) -> Tensor:
        logits = logits.float()
        if tuple(logits.shape[2:]) != tuple(size):
            logits = F.interpolate(
                logits,
                size=size,
                mode='bilinear',
                align_corners=self.align_corners)
        return logits

    @staticmethod
    def rectified_terms(log_p_self: Tensor,
                        log_p_other: Tensor,
                        label: Tensor,
                        valid: Tensor,
                        class_weight: Optional[Tensor] = None) -> Tensor:
        """Per-pixel ``exp(-KL(p_other || p_self)) * w_y * CE + KL`` (0
        where invalid; ``w = 1`` without ``class_weight``), shape
        (N, H, W)."""
        variance = (log_p_other.exp() * (log_p_other - log_p_self)).sum(1)
        ce = RectifiedPseudoLabelLoss._pixel_ce(log_p_self, label, valid,
                                                class_weight)
        return torch.where(valid,
                           torch.exp(-variance) * ce + variance,
                           torch.zeros_like(ce))

    @staticmethod
    def _pixel_ce(log_p: Tensor,
                  label: Tensor,
                  valid: Tensor,
                  class_weight: Optional[Tensor] = None) -> Tensor:
        """Per-pixel ``w_y * CE`` (0 where invalid), shape (N, H, W)."""
        safe = label.masked_fill(~valid, 0)
        ce = -log_p.gather(1, safe.unsqueeze(1)).squeeze(1)
        if class_weight is not None:
            ce = ce * class_weight.to(ce)[safe]
        return ce.masked_fill(~valid, 0.)

    def _hard_valid(self, log_p: Tensor, label: Tensor, valid: Tensor,
                    class_weight: Optional[Tensor]) -> Tensor:
        """Valid mask of one classifier: ``valid`` without the pixels
        below the loss percentile (``hard_percentile``)."""
        if self.hard_percentile is None:
            return valid
        pixel_ce = self._pixel_ce(log_p, label, valid, class_weight)
        hard = hard_pixel_labels(
            label.masked_fill(~valid, self.ignore_index), pixel_ce,
            self.hard_percentile, self.ignore_index)
        return hard != self.ignore_index

    def forward(self, pred_primary: Tensor, pred_aux: Tensor,
                label: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred_primary (Tensor): Primary logits (N, C, H', W').
            pred_aux (Tensor): Auxiliary logits (N, C, H'', W'').
            label (Tensor): Pseudo labels (N, H, W) or (N, 1, H, W), train
                ids or ``ignore_index``.

        Returns:
            Tensor: The weighted scalar loss.
        """
        if label.dim() == 4:
            if label.shape[1] != 1:
                raise ValueError('label must be (N, H, W) or (N, 1, H, W), '
                                 f'got {tuple(label.shape)}')
            label = label[:, 0]
        if pred_primary.dim() != 4 or pred_aux.dim() != 4 or \
                pred_primary.shape[:2] != pred_aux.shape[:2]:
            raise ValueError(
                'pred_primary and pred_aux must be (N, C, H, W) logits with '
                f'the same N and C, got {tuple(pred_primary.shape)} and '
                f'{tuple(pred_aux.shape)}')
        if label.shape[0] != pred_primary.shape[0]:
            raise ValueError(f'batch size of label ({label.shape[0]}) and '
                             f'logits ({pred_primary.shape[0]}) differ')
        size = tuple(label.shape[-2:])
        log_pp = F.log_softmax(self._prepare(pred_primary, size), dim=1)
        log_pa = F.log_softmax(self._prepare(pred_aux, size), dim=1)
        label = label.long()
        valid = label != self.ignore_index
        num_classes = log_pp.shape[1]
        if bool(((label[valid] < 0) | (label[valid] >= num_classes)).any()):
            raise ValueError(f'pseudo labels must be in [0, {num_classes}) or '
                             f'{self.ignore_index}, got values '
                             f'{torch.unique(label[valid]).tolist()}')

        class_weight = None
        if self.class_balance is not None:
            class_weight = self.class_balance.compute_class_weight(
                label, self.ignore_index)
        valid_p = self._hard_valid(log_pp, label, valid, class_weight)
        loss = self.rectified_terms(log_pp, log_pa, label, valid_p,
                                    class_weight).sum() / valid_p.sum().clamp(
                                        min=1)
        if self.aux_weight > 0:
            valid_a = self._hard_valid(log_pa, label, valid, class_weight)
            loss = loss + self.aux_weight * self.rectified_terms(
                log_pa, log_pp, label, valid_a,
                class_weight).sum() / valid_a.sum().clamp(min=1)
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item (mmseg convention)."""
        return self._loss_name
