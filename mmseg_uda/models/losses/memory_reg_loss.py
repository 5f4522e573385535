# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Memory regularisation in vivo (MRNet, Zheng & Yang, IJCAI 2020)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

from ..uda.target_use import FORWARD


class _SymmetricKL(torch.autograd.Function):
    """Per-pixel :math:`KL(p_a \| p_p) + KL(p_p \| p_a)` of two logit maps
    (N, C, H, W) -> (N, H, W), with a hand-written backward.

    With :math:`d = \log p_a - \log p_p` the value is
    :math:`\sum_c (p_{a,c} - p_{p,c})\, d_c` and the gradients are

    .. math::
        \frac{\partial}{\partial z_p} = p_p - p_a
            - p_p \odot (d - \mathbb{E}_{p_p}[d]), \qquad
        \frac{\partial}{\partial z_a} = p_a - p_p
            + p_a \odot (d - \mathbb{E}_{p_a}[d]).

    Autograd through log_softmax / exp / mul / sum computes the same with
    about twice the passes over the (N, C, H, W) maps; MR runs on maps of
    the full crop size every step, so this keeps it a small share of an
    MRNet step (tests compare both with a float64 autograd reference).
    """

    @staticmethod
    def forward(ctx, zp: Tensor, za: Tensor) -> Tensor:
        # in-place where possible: the maps are large and fresh CPU
        # allocations of this size cost page faults
        log_pp = F.log_softmax(zp, dim=1)
        log_pa = F.log_softmax(za, dim=1)
        pp = log_pp.exp()
        pa = log_pa.exp()
        d = log_pa.sub_(log_pp)  # log p_a - log p_p
        tmp = torch.sub(pa, pp, out=log_pp)  # reuse log_pp's storage
        loss = tmp.mul_(d).sum(1)
        ctx.save_for_backward(pp, pa, d)
        return loss

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        pp, pa, d = ctx.saved_tensors
        g = grad_out.unsqueeze(1)
        grad_zp = grad_za = None
        if ctx.needs_input_grad[0]:
            # p_p (1 + E_pp[d] - d) - p_a
            buf = torch.mul(pp, d)
            e_p = buf.sum(1, keepdim=True)
            grad_zp = torch.sub(e_p.add_(1), d, out=buf)
            grad_zp.mul_(pp).sub_(pa).mul_(g)
        if ctx.needs_input_grad[1]:
            # p_a (1 + d - E_pa[d]) - p_p
            buf = torch.mul(pa, d)
            e_a = buf.sum(1, keepdim=True)
            grad_za = torch.sub(d, e_a.sub_(1), out=buf)
            grad_za.mul_(pa).sub_(pp).mul_(g)
        return grad_zp, grad_za


@MODELS.register_module()
class MemoryRegLoss(nn.Module):
    """Consistency (KL) loss between the primary and auxiliary predictions.

    With :math:`p_p = \\mathrm{softmax}(z_p)` and
    :math:`p_a = \\mathrm{softmax}(z_a)` the per-pixel class distributions of
    the primary and auxiliary classifiers and
    :math:`KL(q \\| r) = \\sum_c q_c (\\log q_c - \\log r_c)`:

    - ``mode='symmetric'`` (paper, Eq. 5):

      .. math::
          L_{mr} = \\frac{1}{|\\Omega|} \\sum_{i \\in \\Omega}
              KL(p_a^i \\| p_p^i) + KL(p_p^i \\| p_a^i)

      Gradients flow into both predictions.

    - ``mode='fused'`` (authors' release): a detached teacher
      :math:`t = \\mathrm{softmax}(w z_a + z_p)` with :math:`w = 0.5`,

      .. math::
          L_{mr} = \\frac{1}{|\\Omega|} \\sum_{i \\in \\Omega}
              KL(t^i \\| p_p^i) + KL(t^i \\| p_a^i)

      Gradients flow into both predictions but not into the teacher. As the
      teacher fuses logits, two agreeing heads (:math:`z_a = z_p = z`) give
      the sharper :math:`t = \\mathrm{softmax}(1.5 z)`, so this loss does
      not vanish at agreement (only for uniform predictions).

    :math:`\\Omega` is the set of (valid) pixels over the whole batch. The
    result is multiplied by ``loss_weight`` (:math:`\\lambda_{mr} = 0.1` in
    the paper). Everything is computed in float32 with ``log_softmax``.

    The module is agnostic to where the predictions come from: the two heads
    of :class:`DualDeepLabV2Head`, or e.g. ``decode_head`` and
    ``auxiliary_head`` outputs of a stock ``EncoderDecoder``.

    Args:
        mode (str): ``'symmetric'`` (paper) or ``'fused'`` (release).
            Default: 'symmetric'.
        teacher_aux_weight (float): Weight :math:`w` of the auxiliary logits
            in the fused teacher (``mode='fused'`` only). Default: 0.5.
        reduction (str): ``'mean'`` (over valid pixels) or ``'none'``
            (per-pixel map of shape (N, H, W), zero at ignored pixels).
            Default: 'mean'.
        align_corners (bool): ``align_corners`` of the bilinear resize used
            when the auxiliary logits are not the primary's size.
            Default: False.
        loss_weight (float): Weight of the loss. Default: 0.1.
        loss_name (str): Name of the loss item. Default: 'loss_mr'.
    """

    #: applied to the target batch (``UDASegmentor(memory_reg_on='target')``,
    #: stage I) it needs the student's target logits; on the labelled batch
    #: (stage II) it needs no target images (see
    #: ``models/uda/target_use.py``)
    target_use = FORWARD

    def __init__(self,
                 mode: str = 'symmetric',
                 teacher_aux_weight: float = 0.5,
                 reduction: str = 'mean',
                 align_corners: bool = False,
                 loss_weight: float = 0.1,
                 loss_name: str = 'loss_mr'):
        super().__init__()
        assert mode in ('symmetric', 'fused'), \
            f'mode must be "symmetric" or "fused", got {mode}'
        assert reduction in ('mean', 'none'), \
            f'reduction must be "mean" or "none", got {reduction}'
        self.mode = mode
        self.teacher_aux_weight = teacher_aux_weight
        self.reduction = reduction
        self.align_corners = align_corners
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def extra_repr(self):
        """Extra repr."""
        return (f'mode={self.mode}, '
                f'teacher_aux_weight={self.teacher_aux_weight}, '
                f'reduction={self.reduction}, loss_weight={self.loss_weight}')

    def forward(self,
                pred_primary: Tensor,
                pred_aux: Tensor,
                ignore_mask: Optional[Tensor] = None) -> Tensor:
        """Forward function.

        Args:
            pred_primary (Tensor): Primary logits of shape (N, C, H, W).
            pred_aux (Tensor): Auxiliary logits of shape (N, C, H', W');
                bilinearly resized to (H, W) if the sizes differ.
            ignore_mask (Tensor, optional): Boolean mask of shape (N, H, W);
                True pixels are excluded from the loss (and from the pixel
                count of the mean). Default: None.

        Returns:
            Tensor: The weighted scalar loss (``reduction='mean'``) or the
            weighted per-pixel loss map (``reduction='none'``).
        """
        assert pred_primary.dim() == 4 and pred_aux.dim() == 4, \
            'predictions must be (N, C, H, W) logits'
        assert pred_primary.shape[:2] == pred_aux.shape[:2], \
            'predictions must share batch size and number of classes, got ' \
            f'{tuple(pred_primary.shape)} and {tuple(pred_aux.shape)}'
        zp = pred_primary.float()
        za = pred_aux.float()
        if za.shape[2:] != zp.shape[2:]:
            za = F.interpolate(
                za,
                size=zp.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)

        if self.mode == 'symmetric':
            # KL(pa||pp) + KL(pp||pa) = sum_c (pa - pp) (log pa - log pp)
            loss = _SymmetricKL.apply(zp, za)
        else:
            log_pp = F.log_softmax(zp, dim=1)
            log_pa = F.log_softmax(za, dim=1)
            with torch.no_grad():
                log_t = F.log_softmax(
                    self.teacher_aux_weight * za + zp, dim=1)
                t = log_t.exp()
            loss = (t * (2 * log_t - log_pp - log_pa)).sum(1)

        if ignore_mask is not None:
            assert ignore_mask.shape == loss.shape, \
                f'ignore_mask must have shape {tuple(loss.shape)}, ' \
                f'got {tuple(ignore_mask.shape)}'
            ignore_mask = ignore_mask.to(device=loss.device, dtype=torch.bool)
            loss = loss.masked_fill(ignore_mask, 0.)
            num_valid = (~ignore_mask).sum().clamp(min=1)
        else:
            num_valid = max(loss.numel(), 1)

        if self.reduction == 'mean':
            # an all-ignored batch gives 0 (still attached to the graph)
            loss = loss.sum() / num_valid
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item (mmseg convention: ``loss_`` prefix makes it
        part of the backward graph)."""
        return self._loss_name
