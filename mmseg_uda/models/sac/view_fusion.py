# Copyright (c) OpenMMLab. All rights reserved.
"""Multi-scale fusion of the momentum-network predictions (SAC, Sec. 3.3).

The affines follow the convention of :mod:`.multi_crop_views`: ``(B, V, 2,
3)`` matrices mapping normalised view coordinates to normalised canvas
coordinates (``align_corners=False``).

Maps coarser than the views
---------------------------
Teacher logits of a DeepLab-style head are ``align_corners=True`` samples of
the view: their first / last pixel sits on the centre of the view's first /
last pixel, i.e. at the normalised (``align_corners=False``) view coordinate
``-s`` / ``+s`` with ``s = (n - 1) / n`` for a view side of ``n`` pixels, and
every ``align_corners=True`` upsampling of them keeps that geometry. To fuse
such maps at a resolution below the views', :func:`corner_aligned_affines`
rewrites the affines in the maps' own ``align_corners=True`` coordinates
``u = x / s``, and :func:`fuse_views` samples with ``align_corners=True``
(:func:`fuse_coarse_views` does both and upsamples the result).
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor


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


def corner_aligned_affines(affines: Tensor, size: Sequence[int]) -> Tensor:
    """Affines of maps that sample the views corner-aligned.

    Converts view-to-canvas affines from the normalised
    ``align_corners=False`` coordinates ``x`` of views (and canvas) of
    ``size`` pixels to the ``align_corners=True`` coordinates ``u`` of maps
    whose corner pixels sit on the corner pixel centres of those views
    (``x = s u`` per axis, ``s = (n - 1) / n``; see the module doc):
    ``A' = S^-1 A S`` (linear part) and ``t' = S^-1 t``. Use them with
    ``fuse_views(..., align_corners=True)``. For the aspect-preserving
    crops and flips of :class:`MultiCropViews` the linear part is
    unchanged and only the translation is scaled.

    Args:
        affines (Tensor): Affines (..., 2, 3) in view / canvas coordinates.
        size (Sequence[int]): (height, width) in pixels of the views (and
            canvas) the affines were drawn for.

    Returns:
        Tensor: The affines in corner-aligned map coordinates, same shape.
    """
    h, w = int(size[0]), int(size[1])
    s = affines.new_tensor([(w - 1) / w, (h - 1) / h])  # (x, y) scales
    lin = affines[..., :2] * s.unsqueeze(0) / s.unsqueeze(1)  # S^-1 L S
    trans = affines[..., 2:] / s.unsqueeze(1)  # S^-1 t
    return torch.cat([lin, trans], dim=-1)


def fuse_views(
    probs: Tensor,
    affines: Tensor,
    canvas_size: Optional[Tuple[int, int]] = None,
    mode: str = 'bilinear',
    coverage_eps: float = 1e-5,
    return_canvas: bool = False,
    align_corners: bool = False
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
        align_corners (bool): Coordinate convention of the affines and of
            the sampling (``grid_sample`` / ``affine_grid``). Defaults to
            False (the convention of :mod:`.multi_crop_views`); True for
            maps coarser than the views with affines from
            :func:`corner_aligned_affines`.

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
        invert_affine(theta), [N, C, ch, cw], align_corners=align_corners)
    on_canvas = F.grid_sample(
        probs,
        grid,
        mode=mode,
        padding_mode='border',
        align_corners=align_corners)
    covered = (grid.abs() <= 1 + coverage_eps).all(dim=-1)
    covered = covered.unsqueeze(1).to(probs.dtype)  # (N, 1, ch, cw)

    # 2) average over the covering views.
    total = (on_canvas * covered).view(B, V, C, ch, cw).sum(dim=1)
    count = covered.view(B, V, 1, ch, cw).sum(dim=1)
    canvas = total / count.clamp(min=1)

    # 3) the fused canvas back into every view.
    grid = F.affine_grid(theta, [N, C, h, w], align_corners=align_corners)
    targets = F.grid_sample(
        canvas.repeat_interleave(V, dim=0),
        grid,
        mode=mode,
        padding_mode='border',
        align_corners=align_corners)
    if return_canvas:
        return targets, canvas, count
    return targets


def fuse_coarse_views(probs: Tensor,
                      affines: Tensor,
                      out_size: Sequence[int],
                      align_corners: bool = True,
                      mode: str = 'bilinear',
                      coverage_eps: float = 1e-5) -> Tensor:
    """:func:`fuse_views` of maps coarser than the views, upsampled to them.

    The maps are fused at their own resolution and the per-view targets
    are upsampled bilinearly to ``out_size``, the size of the views the
    affines were drawn for. With ``align_corners=True`` the maps are taken
    as corner-aligned samples of the views (the geometry of DeepLab logits
    upsampled with ``align_corners=True``) and the affines are converted by
    :func:`corner_aligned_affines`; with False, as pixel-centre samples
    (``align_corners=False``), which need no conversion. Maps that agree
    across the views (e.g. linear functions of the canvas coordinates) come
    back unchanged, sampled at the view pixels.

    Args:
        probs (Tensor): Per-view maps (B * V, C, h, w), image-major.
        affines (Tensor): View-to-canvas affines (B, V, 2, 3) in the
            convention of :mod:`.multi_crop_views`.
        out_size (Sequence[int]): (height, width) of the views.
        align_corners (bool): Geometry of the maps, see above. Defaults to
            True.
        mode (str): ``grid_sample`` interpolation. Defaults to 'bilinear'.
        coverage_eps (float): See :func:`fuse_views`.

    Returns:
        Tensor: Fused targets (B * V, C, *out_size), float32, in
        channels-last memory format (the upsampling and a per-pixel
        maximum over classes run over contiguous classes, several times
        faster on the CPU; the values do not depend on it).
    """
    size = (int(out_size[0]), int(out_size[1]))
    theta = corner_aligned_affines(affines, size) if align_corners \
        else affines
    fused = fuse_views(
        probs,
        theta,
        mode=mode,
        coverage_eps=coverage_eps,
        align_corners=align_corners)
    return F.interpolate(
        fused.contiguous(memory_format=torch.channels_last),
        size,
        mode='bilinear',
        align_corners=align_corners)

