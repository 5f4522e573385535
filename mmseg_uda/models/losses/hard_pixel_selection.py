# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Selection of the hardest pixels of a batch (MRNet release,
``--only-hard-label``)."""
import torch
from torch import Tensor


def loss_percentile(pixel_loss: Tensor, percentile: float) -> Tensor:
    """The ``percentile``-th percentile of all values of ``pixel_loss``.

    Linear interpolation between the two nearest ranks (the default of
    ``numpy.percentile``): with the values sorted, :math:`v_0 \\le \\dots \\le
    v_{n-1}`, and :math:`r = q / 100 \\cdot (n - 1)`,

    .. math::
        P_q = v_{\\lfloor r \\rfloor} + (r - \\lfloor r \\rfloor)
              (v_{\\lceil r \\rceil} - v_{\\lfloor r \\rfloor}).

    Written with ``sort`` rather than ``torch.quantile``, which refuses
    inputs of more than 2^24 elements (a batch of 9 crops of 2048x1024).

    Args:
        pixel_loss (Tensor): Per-pixel losses, any shape (not empty).
        percentile (float): :math:`q` in [0, 100].

    Returns:
        Tensor: Scalar percentile (no gradient).
    """
    if not 0 <= percentile <= 100:
        raise ValueError(f'percentile must be in [0, 100], got {percentile}')
    values = pixel_loss.detach().flatten().double().sort().values
    if values.numel() == 0:
        raise ValueError('loss_percentile needs at least one value')
    rank = percentile / 100 * (values.numel() - 1)
    lo = int(rank)
    hi = min(lo + 1, values.numel() - 1)
    frac = rank - lo
    return (values[lo] + frac * (values[hi] - values[lo])).to(pixel_loss.dtype)


def hard_pixel_labels(label: Tensor, pixel_loss: Tensor, percentile: float,
                      ignore_index: int = 255) -> Tensor:
    """Labels with every pixel below the loss percentile set to ignore.

    The MRNet release (``--only-hard-label q``) trains the cross-entropy
    only on the pixels whose (class-weighted) loss is at least the
    ``q``-th percentile :math:`P_q` of the per-pixel losses of the whole
    batch, ignored pixels included with loss 0:

    .. math::
        \\tilde{y}_i = \\begin{cases} y_i & \\ell_i \\ge P_q \\\\
            \\text{ignore} & \\text{otherwise} \\end{cases}

    (q = 80 keeps the hardest 20 % of the pixels).

    Args:
        label (Tensor): Labels (N, H, W).
        pixel_loss (Tensor): Per-pixel losses of the same shape (0 at
            ignored pixels).
        percentile (float): :math:`q` in [0, 100].
        ignore_index (int): Label of ignored pixels. Defaults to 255.

    Returns:
        Tensor: New label tensor (the input is not modified).
    """
    if label.shape != pixel_loss.shape:
        raise ValueError(f'label {tuple(label.shape)} and pixel_loss '
                         f'{tuple(pixel_loss.shape)} must have one shape')
    threshold = loss_percentile(pixel_loss, percentile)
    return label.masked_fill(pixel_loss.detach() < threshold, ignore_index)
