# Copyright (c) OpenMMLab. All rights reserved.
"""Pseudo labels with sample-based moving thresholds (SAC, Sec. 3.3)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor

from mmseg.registry import MODELS


def _channels_last(x: Tensor) -> bool:
    """Whether a 4-D tensor is stored channels-last (and not also plainly
    contiguous, as with one class or one pixel)."""
    return (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


def class_max(probs: Tensor) -> Tuple[Tensor, Tensor]:
    """``probs.max(dim=1)`` of (N, C, H, W) maps: the largest value and its
    (first) class per pixel, computed over the contiguous dimension of a
    channels-last tensor."""
    if _channels_last(probs):
        return probs.permute(0, 2, 3, 1).max(dim=-1)
    return probs.max(dim=1)


def argmax_peaks(probs: Tensor) -> Tensor:
    """Per map and class, the largest probability of class ``c`` over the
    pixels whose argmax is ``c`` (0 where no pixel predicts ``c``), (N, C),
    for (N, C, h, w) maps in either memory format."""
    conf, idx = class_max(probs)
    peaks = conf.new_zeros(probs.shape[:2])
    return peaks.scatter_reduce_(1, idx.flatten(1), conf.flatten(1),
                                 reduce='amax', include_self=True)


def spatial_max(probs: Tensor) -> Tensor:
    """The maximum over all pixels of every map and class, (N, C), for
    (N, C, ...) maps in either memory format."""
    if _channels_last(probs):
        return probs.permute(0, 2, 3, 1).amax(dim=1).amax(dim=1)
    return probs.flatten(2).amax(dim=2)


@MODELS.register_module()
class AdaptivePseudoLabeler(nn.Module):
    """Moving class prior and per-class, per-view confidence thresholds.

    **Moving class prior** (Eq. 1-2). For a batch of teacher softmax maps
    ``m`` (N, C, h, w) the batch statistic is the mean class probability

    .. math::
        \\chi_{c} = \\frac{1}{N h w} \\sum_{n, i, j} m_{c, n, i, j},

    (Eq. 1, averaged over the batch; under ``torch.distributed`` also
    averaged over all ranks before the update) and the prior follows the
    exponential moving average (Eq. 2)

    .. math::
        \\chi^{t+1}_c = \\gamma_\\chi \\chi^t_c + (1 - \\gamma_\\chi) \\chi_c.

    The prior is the buffer ``class_prior`` (C,) and the number of updates
    the buffer ``num_updates``, so both are saved with the model state dict
    and restored on resume. First update: with ``prior_init='first_batch'``
    (default) the prior is *set* to the first batch statistic, so the
    thresholds are meaningful from the first iteration; with
    ``prior_init='uniform'`` it starts at ``1 / C`` and the first batch is
    blended in by the EMA like every later one.

    **Thresholds** (Eq. 3-4) per view ``n`` and class ``c``:

    .. math::
        \\theta_{c,n} = \\zeta (1 - e^{-\\chi_c / \\beta}) m^*_{c,n},
        \\qquad m^*_{c,n} = \\max_{i,j} m_{c,n,i,j}.

    Peak confidence :math:`m^*_{c,n}` (``peak``): ``'all'`` (default) takes
    it over all pixels, as Eq. 4 of the paper; ``'argmax'`` only over the
    pixels whose most likely class is ``c`` (the release), so a class that is
    everywhere second-best does not raise its own threshold. The two agree
    for every class whose most confident pixel also predicts it.

    The release also clamps the threshold from below,
    ``theta <- max(theta, min_threshold)`` (0.2 for ResNet-101, 0.1 for
    VGG-16); the paper does not (``min_threshold=None``, the default).

    **Pseudo labels** (Eq. 5): ``c* = argmax_c m_{c,n,i,j}`` if
    ``m_{c*,n,i,j} > theta_{c*,n}``, else ``ignore_index``.

    Args:
        num_classes (int): Number of classes C.
        momentum (float): :math:`\\gamma_\\chi`. Defaults to 0.99.
        zeta (float): :math:`\\zeta`. Defaults to 0.75.
        beta (float): :math:`\\beta`. Defaults to 1e-3.
        min_threshold (float, optional): Lower clamp of the thresholds
            (release). Defaults to None (paper).
        ignore_index (int): Label of unselected pixels. Defaults to 255.
        prior_init (str): 'first_batch' or 'uniform', see above.
            Defaults to 'first_batch'.
        peak (str): Pixels of the peak confidence :math:`m^*_c`: ``'all'``
            (paper, Eq. 4) or ``'argmax'`` (release). Defaults to 'all'.
    """

    #: peak confidence (N, C) of (N, C, h, w) maps, by ``peak``
    PEAKS = dict(all=spatial_max, argmax=argmax_peaks)

    def __init__(self,
                 num_classes: int,
                 momentum: float = 0.99,
                 zeta: float = 0.75,
                 beta: float = 1e-3,
                 min_threshold: Optional[float] = None,
                 ignore_index: int = 255,
                 prior_init: str = 'first_batch',
                 peak: str = 'all') -> None:
        super().__init__()
        if peak not in self.PEAKS:
            raise ValueError(f'peak must be one of {sorted(self.PEAKS)}, '
                             f'got {peak!r}')
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        if not 0 <= momentum <= 1:
            raise ValueError(f'momentum must be in [0, 1], got {momentum}')
        if beta <= 0:
            raise ValueError(f'beta must be > 0, got {beta}')
        if prior_init not in ('first_batch', 'uniform'):
            raise ValueError("prior_init must be 'first_batch' or 'uniform', "
                             f'got {prior_init!r}')
        self.num_classes = num_classes
        self.momentum = momentum
        self.zeta = zeta
        self.beta = beta
        self.min_threshold = min_threshold
        self.ignore_index = ignore_index
        self.prior_init = prior_init
        self.peak = peak
        self.register_buffer('class_prior',
                             torch.full((num_classes, ), 1.0 / num_classes))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, momentum={self.momentum}, '
                f'zeta={self.zeta}, beta={self.beta}, '
                f'min_threshold={self.min_threshold}, '
                f'prior_init={self.prior_init!r}, peak={self.peak!r}')

    def reduce_statistic(self, stat: Tensor) -> Tensor:
        """Average the batch statistic over all ranks (hook point).

        A no-op outside ``torch.distributed``. Override to use another
        process group or to disable the synchronisation.

        Args:
            stat (Tensor): Batch statistic of this rank, (C,).

        Returns:
            Tensor: The statistic averaged over ranks, (C,).
        """
        if dist.get_world_size() > 1:
            stat = stat.clone()
            dist.all_reduce(stat, op='mean')
        return stat

    @torch.no_grad()
    def update_prior(self, probs: Tensor) -> Tensor:
        """EMA update of the class prior with a batch of teacher maps.

        Every rank must call this (it may all-reduce).

        Args:
            probs (Tensor): Teacher softmax maps (N, C, h, w) (or (N, C)).

        Returns:
            Tensor: The updated prior (C,) (the buffer itself).
        """
        if probs.dim() < 2 or probs.shape[1] != self.num_classes:
            raise ValueError(f'expected (N, {self.num_classes}, ...) '
                             f'probabilities, got {tuple(probs.shape)}')
        dims = [d for d in range(probs.dim()) if d != 1]
        stat = probs.detach().float().mean(dim=dims)  # Eq. 1
        stat = self.reduce_statistic(stat).to(self.class_prior)
        ema = self.momentum * self.class_prior + (1 - self.momentum) * stat
        if self.prior_init == 'first_batch':
            # tensor-valued test: no host-device synchronisation
            ema = torch.where(self.num_updates == 0, stat, ema)
        self.class_prior.copy_(ema)  # Eq. 2
        self.num_updates += 1
        return self.class_prior

    @torch.no_grad()
    def thresholds(self, probs: Tensor) -> Tensor:
        """Per-view, per-class thresholds (Eq. 3-4).

        Args:
            probs (Tensor): (Fused) teacher maps (N, C, h, w).

        Returns:
            Tensor: Thresholds :math:`\\theta` (N, C), float32.
        """
        peak = self.PEAKS[self.peak](probs.detach().float())  # Eq. 4
        prior = self.class_prior.float().to(peak.device)
        theta = self.zeta * (1 - torch.exp(-prior / self.beta)) * peak
        if self.min_threshold is not None:
            theta = theta.clamp(min=self.min_threshold)
        return theta

    @torch.no_grad()
    def forward(self, fused_probs: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Pseudo labels of the fused teacher maps (Eq. 5).

        Uses the current prior; call :meth:`update_prior` beforehand if the
        current batch should count.

        Args:
            fused_probs (Tensor): Fused teacher softmax maps (N, C, h, w),
                e.g. the per-view targets of :func:`fuse_views`.

        Returns:
            tuple[Tensor, Tensor, Tensor]:

            - labels (Tensor): (N, h, w) long, ``ignore_index`` where
              unselected.
            - confidence (Tensor): (N, h, w) float32, the max probability
              :math:`m_{c^*}` (for all pixels, selected or not).
            - thresholds (Tensor): (N, C) float32.
        """
        if fused_probs.dim() != 4 or fused_probs.shape[1] != self.num_classes:
            raise ValueError(f'expected (N, {self.num_classes}, h, w) '
                             f'probabilities, got {tuple(fused_probs.shape)}')
        probs = fused_probs.detach().float()
        theta = self.thresholds(probs)
        confidence, labels = class_max(probs)
        pixel_theta = theta.gather(1, labels.flatten(1)).view_as(confidence)
        labels = labels.masked_fill(confidence <= pixel_theta,
                                    self.ignore_index)
        return labels, confidence, theta
