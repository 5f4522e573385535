# Copyright (c) OpenMMLab. All rights reserved.
"""Multi-scale fusion of the momentum-network predictions (SAC, Sec. 3.3).

The affines follow the convention of :mod:`.multi_crop_views`: ``(B, V, 2,
3)`` matrices mapping normalised view coordinates to normalised canvas
coordinates (``align_corners=False``).
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


def invert_affine(theta: Tensor) -> Tensor:
    """Invert batched invertible affines.

    Args:
        theta (Tensor): Invertible affines of shape (..., 2, 3),
            ``p' = L p + t``.

    Returns:
        Tensor: The inverse affines ``p = L^-1 p' - L^-1 t``, (..., 2, 3).
    """
    a, b = theta[..., 0, 0], theta[..., 0, 1]
    c, d = theta[..., 1, 0], theta[..., 1, 1]
    det = a * d - b * c  # no singularity check: it would sync the device
    lin_inv = torch.stack(
        [torch.stack([d, -b], dim=-1),
         torch.stack([-c, a], dim=-1)], dim=-2) / det[..., None, None]
    trans_inv = -lin_inv @ theta[..., 2:]
    return torch.cat([lin_inv, trans_inv], dim=-1)


def fuse_views(
    probs: Tensor,
    affines: Tensor,
    canvas_size: Optional[Tuple[int, int]] = None,
    mode: str = 'bilinear',
    coverage_eps: float = 1e-5,
    return_canvas: bool = False
) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
    """Fuse the predictions of the views of each image and re-project them.

    With ``W_v`` the canvas-to-view warp of view ``v`` (the inverse of its
    affine) and ``[W_v]`` its coverage mask (canvas pixels whose centre lies
    inside the view), the fused canvas is the per-pixel average over the
    covering views (Sec. 3.3, "Multi-scale fusion")::

        M(p) = sum_v [W_v](p) * m_v(W_v(p)) / sum_v [W_v](p)

    A pixel covered only by the full view therefore keeps its prediction.
    ``M`` is then warped back into every view, ``target_v = M o A_v``, so each
    view gets the fused map as its own target.

    All views of all images are processed by two batched ``grid_sample``
    calls; nothing loops over pixels, views or images.

    Args:
        probs (Tensor): Per-view teacher softmax maps (B * V, C, h, w),
            image-major (index ``b * V + v``).
        affines (Tensor): View-to-canvas affines (B, V, 2, 3).
        canvas_size (tuple[int, int], optional): (height, width) of the
            fusion canvas. Defaults to None, i.e. (h, w).
        mode (str): ``grid_sample`` interpolation. Defaults to 'bilinear'.
        coverage_eps (float): Slack of the coverage test in normalised
            coordinates. Defaults to 1e-5.
        return_canvas (bool): Whether to also return the fused canvas and
            the per-pixel number of covering views. Defaults to False.

    Returns:
        Tensor | tuple[Tensor, Tensor, Tensor]: ``targets`` (B * V, C, h, w),
        float32, the fused map seen through each view; if ``return_canvas``
        also ``canvas`` (B, C, H_c, W_c) and ``count`` (B, 1, H_c, W_c).
        Canvas pixels covered by no view are 0 (cannot happen when a view
        spans the whole canvas, as view 0 of :class:`MultiCropViews` does).
    """
    if affines.dim() != 4 or affines.shape[-2:] != (2, 3):
        raise ValueError('affines must have shape (B, V, 2, 3), got '
                         f'{tuple(affines.shape)}')
    B, V = affines.shape[:2]
    N, C, h, w = probs.shape
    if N != B * V:
        raise ValueError(f'probs hold {N} maps but affines describe '
                         f'{B} x {V} views')
    ch, cw = canvas_size if canvas_size is not None else (h, w)
    probs = probs.float()
    theta = affines.reshape(N, 2, 3).to(probs)

    # 1) every view onto the canvas, with its coverage mask.
    grid = F.affine_grid(
        invert_affine(theta), [N, C, ch, cw], align_corners=False)
    on_canvas = F.grid_sample(
        probs, grid, mode=mode, padding_mode='border', align_corners=False)
    covered = (grid.abs() <= 1 + coverage_eps).all(dim=-1)
    covered = covered.unsqueeze(1).to(probs.dtype)  # (N, 1, ch, cw)

    # 2) average over the covering views.
    total = (on_canvas * covered).view(B, V, C, ch, cw).sum(dim=1)
    count = covered.view(B, V, 1, ch, cw).sum(dim=1)
    canvas = total / count.clamp(min=1)

    # 3) the fused canvas back into every view.
    grid = F.affine_grid(theta, [N, C, h, w], align_corners=False)
    targets = F.grid_sample(
        canvas.repeat_interleave(V, dim=0),
        grid,
        mode=mode,
        padding_mode='border',
        align_corners=False)
    if return_canvas:
        return targets, canvas, count
    return targets


@MODELS.register_module()
class ViewFusion(nn.Module):
    """Module wrapper of :func:`fuse_views` (SAC multi-scale fusion).

    Args:
        canvas_size (tuple[int, int], optional): (height, width) of the
            fusion canvas. Defaults to None (the resolution of the maps).
        mode (str): ``grid_sample`` interpolation. Defaults to 'bilinear'.
        coverage_eps (float): Slack of the coverage test in normalised
            coordinates. Defaults to 1e-5.
    """

    def __init__(self,
                 canvas_size: Optional[Tuple[int, int]] = None,
                 mode: str = 'bilinear',
                 coverage_eps: float = 1e-5) -> None:
        super().__init__()
        self.canvas_size = tuple(canvas_size) if canvas_size else None
        self.mode = mode
        self.coverage_eps = coverage_eps

    def forward(
        self,
        probs: Tensor,
        affines: Tensor,
        return_canvas: bool = False
    ) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
        """See :func:`fuse_views`."""
        return fuse_views(
            probs,
            affines,
            canvas_size=self.canvas_size,
            mode=self.mode,
            coverage_eps=self.coverage_eps,
            return_canvas=return_canvas)
