# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Fusion of a primary and an auxiliary classifier (MRNet, Sec. 4.1).

The one place that writes the fusion formulas; ``DualDeepLabV2Head.fuse``,
``student_outputs.fused_probabilities`` (through the head) and
``OutputSpaceAdversary`` (the release's fused "real" map) call it.
"""
import torch.nn.functional as F
from torch import Tensor

#: fusion modes: 'prob' (paper) and 'logit' (release)
FUSE_MODES = ('prob', 'logit')


def fuse_head_scores(primary: Tensor,
                     aux: Tensor,
                     weight: float = 0.5,
                     mode: str = 'prob',
                     normalise: bool = False) -> Tensor:
    """Fused class scores of two same-size logit maps.

    - ``'prob'`` (paper): :math:`\\sigma(z_p) + w\\,\\sigma(z_a)`, which sums
      to :math:`1 + w` per pixel (divided by it with ``normalise=True``);
    - ``'logit'`` (release): :math:`\\sigma(z_p + w\\,z_a)`, already a
      distribution.

    :math:`\\sigma` is the softmax over classes (dim 1), :math:`w` the
    decode head's ``fuse_weight``.

    Args:
        primary (Tensor): Primary logits :math:`z_p` (N, C, H, W).
        aux (Tensor): Auxiliary logits :math:`z_a`, same shape.
        weight (float): :math:`w`. Defaults to 0.5.
        mode (str): ``'prob'`` or ``'logit'``. Defaults to 'prob'.
        normalise (bool): Return probabilities (summing to one) for both
            modes. Defaults to False.

    Returns:
        Tensor: Scores (N, C, H, W).
    """
    if mode not in FUSE_MODES:
        raise ValueError(f'fusion mode must be one of {FUSE_MODES}, got '
                         f'{mode!r}')
    if mode == 'logit':
        return F.softmax(primary + weight * aux, dim=1)
    scores = F.softmax(primary, dim=1) + weight * F.softmax(aux, dim=1)
    return scores / (1. + weight) if normalise else scores
