# Copyright (c) OpenMMLab. All rights reserved.
"""Multi-crop view generation of SAC (Araslanov & Roth, CVPR 2021, Sec. 3.2).

Coordinate convention (shared with :mod:`.view_fusion`)
-------------------------------------------------------
Every view ``v`` of image ``b`` is described by an affine matrix
``A[b, v]`` of shape ``(2, 3)`` in the *normalised* coordinates of
:func:`torch.nn.functional.affine_grid` with ``align_corners=False``
(``-1`` / ``+1`` are the outer edges of the first / last pixel). It maps a
point ``(u, v)`` of the view to the point ``(x, y)`` of the canvas::

    [x, y]^T = A[:, :2] @ [u, v]^T + A[:, 2]

For the views produced here ``A = [[f * s, 0, t_x], [0, s, t_y]]`` where ``s``
is the crop side relative to the canvas side (the aspect ratio is kept),
``(t_x, t_y)`` is the crop centre and ``f = -1`` for a horizontally flipped
view (``+1`` otherwise). Because the coordinates are normalised, the same
matrices are valid at any resolution, e.g. for 1/8-resolution logits.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


def _rand(shape: Sequence[int], generator: Optional[torch.Generator],
          device: torch.device) -> Tensor:
    """U(0, 1) samples drawn on the generator's device, moved to ``device``.

    ``torch.Generator`` objects are bound to one device; drawing on that
    device and moving the (tiny) result keeps one CPU generator usable for
    GPU batches and makes the stream independent of where the images live.
    """
    gen_device = generator.device if generator is not None else 'cpu'
    out = torch.rand(
        tuple(shape),
        generator=generator,
        device=gen_device,
        dtype=torch.float64)
    return out.to(device)


def warp_views(images: Tensor,
               affines: Tensor,
               out_size: Optional[Tuple[int, int]] = None,
               mode: str = 'bilinear',
               padding_mode: str = 'border') -> Tensor:
    """Resample ``V`` views per image given their view-to-image affines.

    Args:
        images (Tensor): Images (or any maps) of shape (B, C, H, W).
        affines (Tensor): View-to-image affines of shape (B, V, 2, 3) in the
            normalised ``align_corners=False`` convention (see module doc).
        out_size (tuple[int, int], optional): (height, width) of every
            view. Defaults to None, i.e. (H, W).
        mode (str): Interpolation of :func:`F.grid_sample`.
            Defaults to 'bilinear'.
        padding_mode (str): Padding of :func:`F.grid_sample`.
            Defaults to 'border'.

    Returns:
        Tensor: Views of shape (B * V, C, h, w), image-major, i.e. view ``v``
        of image ``b`` is at index ``b * V + v``. Floating point: integer
        inputs are converted to float32.
    """
    if affines.dim() != 4 or affines.shape[-2:] != (2, 3):
        raise ValueError('affines must have shape (B, V, 2, 3), got '
                         f'{tuple(affines.shape)}')
    B, C, H, W = images.shape
    if affines.shape[0] != B:
        raise ValueError(f'{B} images but affines for {affines.shape[0]}')
    V = affines.shape[1]
    h, w = out_size if out_size is not None else (H, W)
    if not images.is_floating_point():
        images = images.float()
    theta = affines.reshape(B * V, 2, 3).to(images)
    grid = F.affine_grid(theta, [B * V, C, h, w], align_corners=False)
    src = images.repeat_interleave(V, dim=0)
    return F.grid_sample(
        src, grid, mode=mode, padding_mode=padding_mode, align_corners=False)


def compose_affines(outer: Tensor, inner: Tensor) -> Tensor:
    """Compose two batched (..., 2, 3) affines: ``outer(inner(p))``.

    Args:
        outer (Tensor): Affine(s) applied second, broadcastable to ``inner``.
        inner (Tensor): Affine(s) applied first.

    Returns:
        Tensor: The composed affine, (..., 2, 3).
    """
    lin = outer[..., :2] @ inner[..., :2]
    trans = outer[..., :2] @ inner[..., 2:] + outer[..., 2:]
    return torch.cat([lin, trans], dim=-1)


@MODELS.register_module()
class MultiCropViews(nn.Module):
    """Random multi-scale crops and flips of the target images (SAC).

    For each target image the group of ``num_views`` views holds the full
    image (view 0) and ``num_views - 1`` random crops that keep the aspect
    ratio, with side ``s * full_side``, ``s ~ U(scale_range)``, at a random
    position fully inside the image. Each view is flipped horizontally with
    probability ``flip_prob`` independently. Every view is resampled to
    ``out_size`` with :func:`F.affine_grid` / :func:`F.grid_sample`
    (bilinear, ``align_corners=False``).

    Paper vs. release:

    - Paper (Sec. 3.2) flips every view, the full one included
      (``flip_full_view=True``, the default). ``flip_full_view=False`` keeps
      the full view un-flipped.
    - The release first zooms the whole image by ``z ~ U(1.0, 1.1)`` and
      takes a random crop of the original size, shared by all views of the
      group (``base_scale_range=(1.0, 1.1)``). That zoomed crop then plays
      the role of the "full image" (the *canvas*). Defaults to None (paper:
      the canvas is the input image itself).

    The module has no parameters or buffers; all randomness comes from the
    explicit ``generator`` argument so that the caller controls seeding and
    resumption.

    Args:
        num_views (int): Views per image, the full view included.
            Defaults to 4 (paper: full image + N = 3 crops).
        scale_range (tuple[float, float]): Range of the relative crop side
            ``s``. Defaults to (0.5, 1.0).
        flip_prob (float): Probability of a horizontal flip per view.
            Defaults to 0.5.
        flip_full_view (bool): Whether the full view may be flipped too.
            Defaults to True (paper).
        base_scale_range (tuple[float, float], optional): Zoom range of the
            shared canvas (release: (1.0, 1.1)). Defaults to None.
        out_size (tuple[int, int], optional): (height, width) of the views.
            Defaults to None, i.e. the input size.
        interpolation (str): ``grid_sample`` mode for the images.
            Defaults to 'bilinear'.
        padding_mode (str): ``grid_sample`` padding for the images.
            Defaults to 'border'.
    """

    def __init__(self,
                 num_views: int = 4,
                 scale_range: Tuple[float, float] = (0.5, 1.0),
                 flip_prob: float = 0.5,
                 flip_full_view: bool = True,
                 base_scale_range: Optional[Tuple[float, float]] = None,
                 out_size: Optional[Tuple[int, int]] = None,
                 interpolation: str = 'bilinear',
                 padding_mode: str = 'border') -> None:
        super().__init__()
        if num_views < 1:
            raise ValueError(f'num_views must be >= 1, got {num_views}')
        lo, hi = scale_range
        if not 0 < lo <= hi <= 1:
            raise ValueError('scale_range must satisfy 0 < lo <= hi <= 1, '
                             f'got {scale_range}')
        if not 0 <= flip_prob <= 1:
            raise ValueError(f'flip_prob must be in [0, 1], got {flip_prob}')
        if base_scale_range is not None:
            blo, bhi = base_scale_range
            if not 1 <= blo <= bhi:
                raise ValueError('base_scale_range must satisfy 1 <= lo <= '
                                 f'hi, got {base_scale_range}')
        self.num_views = num_views
        self.scale_range = (float(lo), float(hi))
        self.flip_prob = float(flip_prob)
        self.flip_full_view = flip_full_view
        self.base_scale_range = (
            tuple(float(x) for x in base_scale_range)
            if base_scale_range is not None else None)
        self.out_size = tuple(out_size) if out_size is not None else None
        self.interpolation = interpolation
        self.padding_mode = padding_mode

    def extra_repr(self) -> str:
        return (f'num_views={self.num_views}, scale_range={self.scale_range}, '
                f'flip_prob={self.flip_prob}, '
                f'flip_full_view={self.flip_full_view}, '
                f'base_scale_range={self.base_scale_range}')

    def sample_affines(
            self,
            batch_size: int,
            generator: Optional[torch.Generator] = None,
            device: Optional[torch.device] = None,
            dtype: torch.dtype = torch.float32
    ) -> Tuple[Tensor, Optional[Tensor]]:
        """Draw the view-to-canvas affines of a batch.

        Args:
            batch_size (int): Number of images B.
            generator (torch.Generator, optional): Source of randomness.
                Defaults to None (torch's global generator).
            device (torch.device, optional): Device of the outputs.
            dtype (torch.dtype): dtype of the outputs.

        Returns:
            tuple[Tensor, Tensor | None]: ``affines`` (B, V, 2, 3), view to
            canvas, with view 0 the full canvas; and ``base`` (B, 2, 3), the
            canvas-to-image affine, or None when ``base_scale_range`` is
            None (the canvas is the image).
        """
        B, V = batch_size, self.num_views
        device = torch.device('cpu') if device is None else device
        lo, hi = self.scale_range
        scale = lo + (hi - lo) * _rand((B, V), generator, device)
        scale[:, 0] = 1.0
        # crop centre: uniform over positions keeping the crop inside.
        centre = (2 * _rand((B, V, 2), generator, device) - 1)
        centre = centre * (1 - scale).unsqueeze(-1)
        flip = _rand((B, V), generator, device) < self.flip_prob
        if not self.flip_full_view:
            flip[:, 0] = False
        sign = 1.0 - 2.0 * flip.double()

        affines = torch.zeros(B, V, 2, 3, dtype=torch.float64, device=device)
        affines[..., 0, 0] = sign * scale
        affines[..., 1, 1] = scale
        affines[..., :, 2] = centre

        base = None
        if self.base_scale_range is not None:
            blo, bhi = self.base_scale_range
            zoom = blo + (bhi - blo) * _rand((B, ), generator, device)
            side = 1.0 / zoom
            bcentre = (2 * _rand((B, 2), generator, device) - 1)
            bcentre = bcentre * (1 - side).unsqueeze(-1)
            base = torch.zeros(B, 2, 3, dtype=torch.float64, device=device)
            base[:, 0, 0] = side
            base[:, 1, 1] = side
            base[:, :, 2] = bcentre
            base = base.to(dtype)
        return affines.to(dtype), base

    def forward(self,
                images: Tensor,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[Tensor, Tensor, Tensor]:
        """Make the views of a batch of clean target images.

        Args:
            images (Tensor): Images of shape (B, C, H, W), any value range
                (normalised or not; resampling is linear).
            generator (torch.Generator, optional): Source of randomness (on
                any device; the draws are moved to the images' device).
                Defaults to None (torch's global generator).

        Returns:
            tuple[Tensor, Tensor, Tensor]:

            - views (Tensor): (B * V, C, h, w), image-major (index
              ``b * V + v``), view 0 of each group is the full canvas.
            - affines (Tensor): (B, V, 2, 3) view-to-canvas affines in
              normalised coordinates (see module doc), float32. Pass them to
              :func:`fuse_views`.
            - to_image (Tensor): (B, V, 2, 3) view-to-image affines, the
              ones the views were sampled with (``affines`` composed with
              the canvas-to-image zoom of ``base_scale_range``; equal to
              ``affines`` without it), float32.
        """
        B = images.shape[0]
        affines, base = self.sample_affines(
            B, generator, device=images.device, dtype=torch.float32)
        to_image = affines
        if base is not None:
            to_image = compose_affines(base.unsqueeze(1), affines)
        views = warp_views(
            images,
            to_image,
            out_size=self.out_size,
            mode=self.interpolation,
            padding_mode=self.padding_mode)
        return views, affines, to_image
