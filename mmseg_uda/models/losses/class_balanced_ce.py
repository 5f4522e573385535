# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Cross-entropy with batch-adaptive rare-class weights (MRNet release)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from torch import Tensor

from mmseg.registry import MODELS
from .hard_pixel_selection import hard_pixel_labels


@MODELS.register_module()
class ClassBalancedCrossEntropyLoss(nn.Module):
    """Cross-entropy whose class weights favour classes rare in the batch.

    The MRNet paper only says it "adopts the class balance policy of CBST";
    this loss is the authors' release. For a batch of N label maps with
    :math:`n_c` pixels of class :math:`c`:

    .. math::
        r_c = \\begin{cases} m & n_c < s N \\\\ 1 & \\text{otherwise}
              \\end{cases}, \\qquad
        o_c = \\begin{cases} m & n_c = 0 \\\\ 1 & \\text{otherwise}
              \\end{cases},

    .. math::
        \\bar{o}_c \\leftarrow (1 - \\mu)\\, \\bar{o}_c + \\mu\\, o_c,
        \\qquad w_c = r_c\\, \\bar{o}_c,

    with :math:`m = 7` (``max_weight``), :math:`s = 64 \\cdot 64`
    (``min_pixels``), :math:`\\mu = 0.1` (``momentum``) and :math:`\\bar{o}`
    (``often_weight``, a buffer initialised to 1) an exponential moving
    average of the "absent class" weight (``often_balance=True``; with
    False, :math:`\\bar{o} \\equiv 1`). The loss is the class-weighted mean
    of PyTorch's ``cross_entropy``:

    .. math::
        L = \\frac{\\sum_i w_{y_i}\\, CE_i}{\\sum_i w_{y_i}}

    over non-ignored pixels :math:`i`.

    Hard pixels only (release ``--only-hard-label q``, ``hard_percentile``):
    pixels whose weighted loss :math:`w_{y_i} CE_i` is below the ``q``-th
    percentile of the batch's per-pixel losses (ignored pixels counted with
    loss 0) are ignored before the mean above (see
    :func:`hard_pixel_labels`); the release uses q = 80 with class balance
    on the source CE of stage I (``trainer_ms.py``). The class weights are
    computed from the full labels first.

    The moving average is updated in training mode only, and at most once
    per training iteration when mmengine's ``MessageHub`` knows the
    iteration (so the primary and auxiliary losses of a two-classifier head,
    which see the same labels, update it once, as in the release); without
    an iteration it is updated at every call.

    Args:
        num_classes (int): Number of classes.
        max_weight (float): Weight :math:`m` of rare / absent classes.
            Default: 7.0.
        min_pixels (int): Per-image pixel count :math:`s` below which a class
            is rare. Default: 4096 (64 x 64).
        often_balance (bool): Whether to use the moving "absent class"
            weight :math:`\\bar{o}`. Default: True.
        momentum (float): Momentum :math:`\\mu` of the moving average.
            Default: 0.1.
        hard_percentile (float, optional): Train only on pixels whose loss
            is at least this percentile (0-100) of the batch's pixel losses
            (release: 80). Default: None (all pixels).
        loss_weight (float): Weight of the loss. Default: 1.0.
        loss_name (str): Name of the loss item. Default: 'loss_ce'.
    """

    def __init__(self,
                 num_classes: int,
                 max_weight: float = 7.0,
                 min_pixels: int = 64 * 64,
                 often_balance: bool = True,
                 momentum: float = 0.1,
                 hard_percentile: Optional[float] = None,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce'):
        super().__init__()
        if hard_percentile is not None and not 0 <= hard_percentile <= 100:
            raise ValueError('ClassBalancedCrossEntropyLoss: hard_percentile '
                             f'must be in [0, 100], got {hard_percentile}')
        self.hard_percentile = hard_percentile
        self.num_classes = num_classes
        self.max_weight = max_weight
        self.min_pixels = min_pixels
        self.often_balance = often_balance
        self.momentum = momentum
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.register_buffer('often_weight', torch.ones(num_classes))
        self._last_iter = None

    def extra_repr(self):
        """Extra repr."""
        return (f'num_classes={self.num_classes}, '
                f'max_weight={self.max_weight}, '
                f'min_pixels={self.min_pixels}, '
                f'often_balance={self.often_balance}, '
                f'momentum={self.momentum}, '
                f'hard_percentile={self.hard_percentile}, '
                f'loss_weight={self.loss_weight}')

    def _should_update(self) -> bool:
        if not self.training:
            return False
        cur_iter = MessageHub.get_current_instance().get_info('iter')
        if cur_iter is None:
            return True
        if cur_iter == self._last_iter:
            return False
        self._last_iter = cur_iter
        return True

    @torch.no_grad()
    def compute_class_weight(self, label: Tensor,
                             ignore_index: int = 255) -> Tensor:
        """Class weights :math:`w` for a batch of labels of shape (N, H, W);
        updates the moving average in training (see the class docstring)."""
        valid = (label != ignore_index) & (label >= 0) & \
            (label < self.num_classes)
        count = torch.bincount(
            label[valid].long(), minlength=self.num_classes).float()
        rare = torch.where(
            count < self.min_pixels * label.shape[0],
            count.new_tensor(self.max_weight), count.new_tensor(1.))
        if not self.often_balance:
            return rare
        if self._should_update():
            often = torch.where(count == 0, count.new_tensor(self.max_weight),
                                count.new_tensor(1.))
            self.often_weight.mul_(1 - self.momentum).add_(
                self.momentum * often.to(self.often_weight))
        return rare * self.often_weight.to(rare)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """Forward function.

        Args:
            cls_score (Tensor): Logits of shape (N, C, H, W).
            label (Tensor): Labels of shape (N, H, W).
            weight (Tensor, optional): Pixel-wise weights (N, H, W),
                multiplied into the numerator. Default: None.
            ignore_index (int): Label to ignore. Default: 255.

        Returns:
            Tensor: The weighted scalar loss.
        """
        class_weight = self.compute_class_weight(label, ignore_index)
        loss = F.cross_entropy(
            cls_score.float(),
            label.long(),
            weight=class_weight,
            reduction='none',
            ignore_index=ignore_index)
        if self.hard_percentile is not None:
            label = hard_pixel_labels(label, loss, self.hard_percentile,
                                      ignore_index)
            loss = loss.masked_fill(label == ignore_index, 0.)
        if weight is not None:
            loss = loss * weight.float()
        valid = label != ignore_index
        denom = class_weight[label[valid].long()].sum().clamp(min=1e-12)
        return self.loss_weight * loss.sum() / denom

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name
