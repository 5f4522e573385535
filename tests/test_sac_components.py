# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Tests of SAC's building blocks (views, fusion, noise, pseudo labels, focal
loss, VGG-16 DeepLabv2 backbone, class-balanced sampler, class statistics).

Expectations are computed independently of the implementation (slicing and
resizing instead of affine grids, explicit loops, float64 formulas).
"""
import importlib.util
import colorsys
import itertools
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import DATA_SAMPLERS, MODELS
from mmseg_uda.engine.samplers import class_balanced_sampler as cbs
from mmseg_uda.engine.samplers import uda_sampler
from mmseg_uda.models.sac import adaptive_pseudo_labeler as apl_module
from mmseg_uda.models.sac.multi_crop_views import warp_views
from mmseg_uda.models.sac.photometric_noise import (gaussian_blur, hsv_to_rgb,
                                                    rgb_to_hsv)
from mmseg_uda.models.sac.view_fusion import (fuse_coarse_views, fuse_views,
                                              invert_affine)

# ----------------------------------------------------------------------------
# helpers: hand-made affines of pixel-aligned square crops
# ----------------------------------------------------------------------------


def _box_affine(y0, x0, k, n, flip=False):
    """Affine of the k x k crop at (y0, x0) of an n x n canvas."""
    s = k / n
    cx = (x0 + k / 2) / n * 2 - 1
    cy = (y0 + k / 2) / n * 2 - 1
    return torch.tensor([[-s if flip else s, 0., cx], [0., s, cy]])


def _identity(flip=False):
    return torch.tensor([[-1. if flip else 1., 0., 0.], [0., 1., 0.]])


def _hflip(x):
    return torch.flip(x, dims=[-1])


# ----------------------------------------------------------------------------
# MultiCropViews / warp_views
# ----------------------------------------------------------------------------


def test_warp_views_matches_slice_and_resize():
    n = 8
    img = torch.rand(2, 3, n, n)
    boxes = [(0, 4, 4, False), (2, 1, 4, True), (4, 4, 4, True)]
    aff = torch.stack([
        torch.stack([_identity(False)] +
                    [_box_affine(y, x, k, n, f) for y, x, k, f in boxes]),
        torch.stack([_identity(True)] +
                    [_box_affine(y, x, k, n, f) for y, x, k, f in boxes]),
    ])
    views = warp_views(img, aff).view(2, 4, 3, n, n)
    # full view: exact copy / flip
    torch.testing.assert_close(views[0, 0], img[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(views[1, 0], _hflip(img[1]), atol=1e-5, rtol=0)
    for b in range(2):
        for v, (y, x, k, f) in enumerate(boxes, start=1):
            crop = img[b:b + 1, :, y:y + k, x:x + k]
            ref = F.interpolate(
                crop, size=(n, n), mode='bilinear', align_corners=False)[0]
            ref = _hflip(ref) if f else ref
            # the outermost view pixels also see the canvas outside the crop
            torch.testing.assert_close(
                views[b, v][:, 1:-1, 1:-1],
                ref[:, 1:-1, 1:-1],
                atol=1e-5,
                rtol=0)


def test_multi_crop_views_sampling():
    gen = MODELS.build(dict(type='MultiCropViews', num_views=4))
    img = torch.rand(3, 3, 12, 20)
    views, aff, to_image = gen(img, torch.Generator().manual_seed(3))
    assert views.shape == (12, 3, 12, 20)
    # without a zoomed canvas the canvas is the image
    assert torch.equal(to_image, aff)
    assert aff.shape == (3, 4, 2, 3) and aff.dtype == torch.float32
    s = aff[..., 1, 1]
    assert torch.all(s[:, 0] == 1) and torch.all(aff[:, 0, :, 2] == 0)
    assert torch.all((s[:, 1:] >= 0.5) & (s[:, 1:] <= 1))
    # aspect ratio kept, no shear, crop inside the canvas
    torch.testing.assert_close(aff[..., 0, 0].abs(), s)
    assert torch.all(aff[..., 0, 1] == 0) and torch.all(aff[..., 1, 0] == 0)
    assert torch.all(aff[..., 2].abs() + s.unsqueeze(-1) <= 1 + 1e-6)
    # views are the image resampled through the returned affines
    torch.testing.assert_close(views, warp_views(img, aff))
    # view 0 is the full image (possibly flipped)
    v0 = views.view(3, 4, 3, 12, 20)[:, 0]
    for b in range(3):
        ref = _hflip(img[b]) if aff[b, 0, 0, 0] < 0 else img[b]
        torch.testing.assert_close(v0[b], ref, atol=1e-5, rtol=0)

    # determinism from the generator
    views2, aff2, _ = gen(img, torch.Generator().manual_seed(3))
    assert torch.equal(aff, aff2) and torch.equal(views, views2)
    _, aff3, _ = gen(img, torch.Generator().manual_seed(4))
    assert not torch.equal(aff, aff3)


def test_multi_crop_views_flip_options():
    img = torch.rand(64, 3, 4, 4)
    g = torch.Generator().manual_seed(0)
    _, aff, _ = MODELS.build(dict(type='MultiCropViews',
                                  flip_full_view=False))(img, g)
    assert torch.all(aff[:, 0] == _identity())
    flipped = aff[:, 1:, 0, 0] < 0
    assert 0.3 < flipped.float().mean() < 0.7
    _, aff, _ = MODELS.build(dict(type='MultiCropViews',
                                  flip_prob=0.))(img, g)
    assert torch.all(aff[..., 0, 0] > 0)


def test_multi_crop_views_base_zoom():
    gen = MODELS.build(
        dict(
            type='MultiCropViews',
            base_scale_range=(1.0, 1.1),
            out_size=(6, 10)))
    img = torch.rand(2, 3, 12, 20)
    views, aff, to_image = gen(img, torch.Generator().manual_seed(0))
    assert views.shape == (8, 3, 6, 10)
    # affines are relative to the zoomed canvas: view 0 spans all of it
    assert torch.all(aff[:, 0, 1, 1] == 1)
    aff2, base = gen.sample_affines(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(aff, aff2)
    assert torch.all((base[:, 0, 0] >= 1 / 1.1 - 1e-6) & (base[:, 0, 0] <= 1))
    # view -> image: the canvas is a square zoom (side z, centre c) of the
    # image, so x_image = z x_canvas + c, i.e. z * A_lin and z * A_t + c
    z = base[:, 0, 0].view(2, 1, 1, 1)
    c = base[:, :, 2].view(2, 1, 2)
    torch.testing.assert_close(to_image[..., :2], z * aff[..., :2])
    torch.testing.assert_close(to_image[..., 2], z[..., 0] * aff[..., 2] + c)
    assert not torch.allclose(to_image, aff)
    # ... and the views are the image resampled through them
    torch.testing.assert_close(views, warp_views(img, to_image,
                                                 out_size=(6, 10)))


# ----------------------------------------------------------------------------
# fuse_views
# ----------------------------------------------------------------------------


def test_invert_affine():
    theta = torch.stack([_box_affine(1, 2, 4, 8, True), _identity(True)])
    inv = invert_affine(theta)
    pad = torch.tensor([[0., 0., 1.]]).expand(2, 1, 3)
    full = torch.cat([theta, pad], 1)
    full_inv = torch.cat([inv, pad], 1)
    torch.testing.assert_close(full @ full_inv, torch.eye(3).expand(2, 3, 3))


def test_fusion_identity_views_returns_input():
    B, V, C = 2, 3, 4
    probs = torch.softmax(torch.randn(B, 1, C, 5, 7), dim=2)
    probs = probs.expand(B, V, C, 5, 7).reshape(B * V, C, 5, 7)
    aff = _identity().expand(B, V, 2, 3)
    out = fuse_views(probs, aff)
    torch.testing.assert_close(out, probs, atol=1e-6, rtol=0)
    # distinct identity views: every view gets their mean
    probs = torch.rand(B * V, C, 5, 7)
    out = fuse_views(probs, aff)
    mean = probs.view(B, V, C, 5, 7).mean(1, keepdim=True)
    torch.testing.assert_close(
        out.view(B, V, C, 5, 7), mean.expand(B, V, C, 5, 7))


def test_fusion_known_crops_and_flips():
    n, C, B = 8, 2, 2
    torch.manual_seed(0)
    # per image: (full-view flip, [(y0, x0, k, flip), ...])
    setups = [(False, [(0, 4, 4, True), (2, 0, 4, False), (4, 4, 4, True)]),
              (True, [(4, 0, 4, False), (0, 0, 4, True), (2, 2, 4, False)])]
    V = 4
    full = torch.rand(B, C, n, n, dtype=torch.float64)  # full-view maps
    crops = torch.rand(B, V - 1, C, n, n, dtype=torch.float64)
    views, affs = [], []
    for b, (full_flip, boxes) in enumerate(setups):
        views.append(_hflip(full[b]) if full_flip else full[b])
        affs.append(_identity(full_flip))
        for v, (y, x, k, f) in enumerate(boxes):
            crop = crops[b, v, :, y:y + k, x:x + k]
            up = crop.repeat_interleave(n // k, 1).repeat_interleave(n // k, 2)
            views.append(_hflip(up) if f else up)
            affs.append(_box_affine(y, x, k, n, f))
    views = torch.stack(views).float()
    affs = torch.stack(affs).view(B, V, 2, 3)

    targets, canvas, count = fuse_views(views, affs, return_canvas=True)
    assert targets.shape == (B * V, C, n, n)

    # independent expectation of the canvas: explicit loops
    exp = torch.zeros(B, C, n, n, dtype=torch.float64)
    exp_count = torch.zeros(B, 1, n, n)
    for b, (_, boxes) in enumerate(setups):
        for i, j in itertools.product(range(n), range(n)):
            vals = [full[b, :, i, j]]
            for v, (y, x, k, _) in enumerate(boxes):
                if y <= i < y + k and x <= j < x + k:
                    vals.append(crops[b, v, :, i, j])
            exp[b, :, i, j] = torch.stack(vals).mean(0)
            exp_count[b, 0, i, j] = len(vals)
    torch.testing.assert_close(canvas, exp.float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(count, exp_count)
    # pixels covered only by the full view keep its prediction
    only_full = exp_count[:, 0] == 1
    assert only_full.any()
    torch.testing.assert_close(
        canvas.permute(0, 2, 3, 1)[only_full],
        full.float().permute(0, 2, 3, 1)[only_full],
        atol=1e-6,
        rtol=0)

    # each view's target is the fused canvas seen through that view
    targets = targets.view(B, V, C, n, n)
    for b, (full_flip, boxes) in enumerate(setups):
        ref0 = _hflip(exp[b]) if full_flip else exp[b]
        torch.testing.assert_close(
            targets[b, 0], ref0.float(), atol=1e-5, rtol=0)
        for v, (y, x, k, f) in enumerate(boxes, start=1):
            ref = F.interpolate(
                exp[b:b + 1, :, y:y + k, x:x + k].float(),
                size=(n, n),
                mode='bilinear',
                align_corners=False)[0]
            ref = _hflip(ref) if f else ref
            torch.testing.assert_close(
                targets[b, v][:, 1:-1, 1:-1],
                ref[:, 1:-1, 1:-1],
                atol=1e-5,
                rtol=0)


def test_fusion_coarse_maps_and_canvas_size():
    # normalised affines work at any resolution; canvas may differ
    probs = torch.softmax(torch.randn(8, 3, 4, 6), dim=1)
    aff = MODELS.build(dict(type='MultiCropViews')).sample_affines(
        2,
        torch.Generator().manual_seed(1))[0]
    out, canvas, count = fuse_views(probs, aff, canvas_size=(8, 12),
                                    return_canvas=True)
    assert out.shape == probs.shape and canvas.shape == (2, 3, 8, 12)
    assert torch.all(count >= 1)
    torch.testing.assert_close(out.sum(1), torch.ones(8, 4, 6))


def _linear_view_maps(affines, coef, size, full_size, corner):
    """Per-view maps of the linear canvas function ``f(x, y) = a x + b y + c``
    (one per class, ``coef`` (C, 3)) sampled on a ``size`` grid of every
    view: at the pixel centres of the ``full_size`` view (``corner=False``,
    ``size == full_size``) or corner-aligned with them (``corner=True``)."""
    (h, w), (H, W) = size, full_size
    if corner:  # first / last sample on the centre of the first / last pixel
        ys = torch.linspace(-1, 1, h, dtype=torch.float64) * (H - 1) / H
        xs = torch.linspace(-1, 1, w, dtype=torch.float64) * (W - 1) / W
    else:
        ys = (2 * torch.arange(h, dtype=torch.float64) + 1) / h - 1
        xs = (2 * torch.arange(w, dtype=torch.float64) + 1) / w - 1
    yy, xx = torch.meshgrid(ys, xs, indexing='ij')
    pts = torch.stack([xx, yy, torch.ones_like(xx)], -1)
    canvas = torch.einsum('bvij,hwj->bvhwi', affines.double(), pts)
    maps = canvas @ coef[:, :2].T + coef[:, 2]  # (B, V, h, w, C)
    B, V = affines.shape[:2]
    return maps.permute(0, 1, 4, 2, 3).reshape(B * V, -1, h, w).float()


def test_coarse_fusion_geometry():
    """Fusion of corner-aligned maps coarser than the views (the reduced
    resolution of SAC's fusion): maps that agree across random crops and
    flips come back unchanged, sampled at every view pixel; identity views
    return the input."""
    H, W, B, V = 24, 40, 2, 4
    affines = MODELS.build(dict(type='MultiCropViews')).sample_affines(
        B, torch.Generator().manual_seed(0))[0]
    assert (affines[:, 1:, 1, 1] < 1).all() and (affines[..., 0, 0] < 0).any()
    coef = torch.randn(3, 3, dtype=torch.float64)
    coarse = _linear_view_maps(affines, coef, (7, 11), (H, W), corner=True)
    expected = _linear_view_maps(affines, coef, (H, W), (H, W), corner=False)
    out = fuse_coarse_views(coarse, affines, (H, W))
    assert out.shape == (B * V, 3, H, W) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # the coordinate conversion matters: without it the maps shift
    naive = F.interpolate(fuse_views(coarse, affines), (H, W),
                          mode='bilinear', align_corners=True)
    assert (naive - expected).abs().max() > 1e-2

    probs = torch.softmax(torch.randn(B, 1, 3, 7, 11), dim=2)
    probs = probs.expand(B, V, 3, 7, 11).reshape(B * V, 3, 7, 11)
    ident = _identity().expand(B, V, 2, 3)
    for align in (True, False):
        torch.testing.assert_close(
            fuse_coarse_views(probs, ident, (7, 11), align_corners=align),
            probs, atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------
# PhotometricNoise
# ----------------------------------------------------------------------------


RELEASE_ORDER = ('blur', 'jitter', 'grey')


def _noise_reference(noise, x, g, order=RELEASE_ORDER):
    """PhotometricNoise written from its documented behaviour, view by view
    in float64 numpy (colorsys for HSV, its own luma, Gaussian kernel and
    replicated borders), steps in ``order``, pixels in [0, 255]. The random
    numbers: one ``torch.rand((N, 8), generator)`` draw, per view the
    columns (0) jitter decision, (1-3) brightness / contrast / saturation
    factors, (4) hue shift, (5) greyscale decision, (6) blur decision, (7)
    blur sigma."""
    u = torch.rand((x.shape[0], 8), generator=g).double().numpy()
    luma = np.array([0.299, 0.587, 0.114])
    lo_b, hi_b = noise.blur_sigma_range
    half = noise.kernel_size // 2

    def factor(v, strength):
        lo = max(0.0, 1.0 - strength)
        return lo + (1.0 + strength - lo) * v

    def jitter(y, r):
        if r[0] >= noise.jitter_prob:
            return y
        y = np.clip(y * factor(r[1], noise.brightness), 0, 1)
        c = factor(r[2], noise.contrast)
        grey_mean = np.tensordot(luma, y, 1).mean()
        y = np.clip(c * y + (1 - c) * grey_mean, 0, 1)
        s = factor(r[3], noise.saturation)
        y = np.clip(s * y + (1 - s) * np.tensordot(luma, y, 1), 0, 1)
        if noise.hue > 0:
            shift = noise.hue * (2 * r[4] - 1)
            flat = y.reshape(3, -1).T
            for i, (red, green, blue) in enumerate(flat):
                h, sat, val = colorsys.rgb_to_hsv(red, green, blue)
                flat[i] = colorsys.hsv_to_rgb((h + shift) % 1.0, sat, val)
            y = np.clip(flat.T.reshape(y.shape), 0, 1)
        return y

    def grey(y, r):
        if r[5] >= noise.grey_prob:
            return y
        return np.repeat(np.tensordot(luma, y, 1)[None], 3, axis=0)

    def blur(y, r):
        if r[6] >= noise.blur_prob:
            return y
        sigma = lo_b + (hi_b - lo_b) * r[7]
        t = np.arange(-half, half + 1)
        k = np.exp(-t**2 / (2 * sigma**2))
        k /= k.sum()
        pad = np.pad(y, ((0, 0), (0, 0), (half, half)), mode='edge')
        y = sum(k[j] * pad[:, :, j:j + y.shape[2]] for j in range(len(k)))
        pad = np.pad(y, ((0, 0), (half, half), (0, 0)), mode='edge')
        return sum(k[j] * pad[:, j:j + y.shape[1]] for j in range(len(k)))

    steps = dict(jitter=jitter, grey=grey, blur=blur)
    out = []
    for img, r in zip(x.double().numpy(), u):
        y = np.clip(img / 255, 0, 1)  # (3, H, W)
        for name in order:
            y = steps[name](y, r)
        out.append(np.clip(y, 0, 1) * 255)
    return torch.from_numpy(np.stack(out)).float()


@pytest.mark.parametrize('order', [RELEASE_ORDER, ('jitter', 'grey', 'blur')])
@pytest.mark.parametrize('probs', [(0.5, 0.2, 1.0), (1.0, 0.0, 0.5),
                                   (0.0, 1.0, 0.0)])
def test_photometric_noise_per_view_selection(probs, order):
    """Only the selected views get each step, with their own random
    numbers: the values of an independent per-view reference."""
    jitter, grey, blur = probs
    noise = MODELS.build(
        dict(type='PhotometricNoise', jitter_prob=jitter, grey_prob=grey,
             blur_prob=blur, order=order))
    x = torch.rand(16, 3, 9, 13) * 255
    for seed in range(3):
        out = noise(x, torch.Generator().manual_seed(seed))
        ref = _noise_reference(noise, x,
                               torch.Generator().manual_seed(seed), order)
        torch.testing.assert_close(out, ref, atol=2e-3, rtol=0)


def test_photometric_noise_default_is_release_order():
    """The release blurs every view, then jitters (p 0.5), then greys
    (p 0.2): the defaults. The order matters (blur and jitter do not
    commute)."""
    noise = MODELS.build(dict(type='PhotometricNoise'))
    assert (noise.blur_prob, noise.jitter_prob, noise.grey_prob) == \
        (1.0, 0.5, 0.2)
    x = torch.rand(16, 3, 9, 13) * 255
    out = noise(x, torch.Generator().manual_seed(0))
    ref = _noise_reference(noise, x, torch.Generator().manual_seed(0),
                           RELEASE_ORDER)
    torch.testing.assert_close(out, ref, atol=2e-3, rtol=0)
    other = _noise_reference(noise, x, torch.Generator().manual_seed(0),
                             ('jitter', 'grey', 'blur'))
    assert (other - ref).abs().max() > 1.0
    with pytest.raises(ValueError, match='permutation'):
        MODELS.build(dict(type='PhotometricNoise', order=('blur', 'grey')))


def test_photometric_noise_shapes_ranges_determinism():
    noise = MODELS.build(dict(type='PhotometricNoise'))
    x = torch.rand(6, 3, 10, 12) * 255
    out = noise(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 255
    assert not torch.allclose(out, x)
    out2 = noise(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, out2)
    out3 = noise(x, torch.Generator().manual_seed(1))
    assert not torch.equal(out, out3)
    # uint8 input works too
    assert noise(x.round().byte()).dtype == torch.float32


def test_photometric_noise_greyscale_equal_channels():
    noise = MODELS.build(
        dict(
            type='PhotometricNoise',
            grey_prob=1.,
            jitter_prob=1.,
            blur_prob=1.))
    out = noise(torch.rand(4, 3, 9, 9) * 255, torch.Generator().manual_seed(2))
    torch.testing.assert_close(out[:, 0], out[:, 1], atol=1e-3, rtol=0)
    torch.testing.assert_close(out[:, 0], out[:, 2], atol=1e-3, rtol=0)


def test_photometric_noise_identity_and_normalisation():
    mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
    noise = MODELS.build(
        dict(
            type='PhotometricNoise',
            blur_prob=0.,
            jitter_prob=0.,
            grey_prob=0.,
            mean=mean,
            std=std))
    raw = torch.rand(3, 3, 5, 5) * 255
    norm = (raw - torch.tensor(mean).view(
        1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(noise(norm), norm, atol=1e-4, rtol=0)
    # jitter with zero strength is the identity as well
    noise = MODELS.build(
        dict(
            type='PhotometricNoise',
            blur_prob=0.,
            jitter_prob=1.,
            brightness=0.,
            contrast=0.,
            saturation=0.,
            hue=0.,
            grey_prob=0.))
    torch.testing.assert_close(noise(raw), raw, atol=1e-3, rtol=0)


def test_hsv_round_trip_and_blur_kernel():
    x = torch.rand(2, 3, 6, 6)
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5, rtol=0)
    # blur of a centred delta is the outer product of 1-D Gaussians
    img = torch.zeros(2, 3, 15, 15)
    img[:, :, 7, 7] = 1
    sigma = torch.tensor([0.7, 1.9])
    out = gaussian_blur(img, sigma, kernel_size=13)
    for i, s in enumerate(sigma.tolist()):
        t = np.arange(-6, 7, dtype=np.float64)
        k = np.exp(-t**2 / (2 * s * s))
        k /= k.sum()
        ref = np.zeros((15, 15))
        ref[1:14, 1:14] = np.outer(k, k)
        for c in range(3):
            np.testing.assert_allclose(out[i, c].numpy(), ref, atol=1e-6)


# ----------------------------------------------------------------------------
# AdaptivePseudoLabeler
# ----------------------------------------------------------------------------


def test_prior_ema_update_by_hand():
    lab = MODELS.build(dict(type='AdaptivePseudoLabeler', num_classes=3))
    p1 = torch.softmax(torch.randn(2, 3, 4, 5), dim=1)
    p2 = torch.softmax(torch.randn(3, 3, 4, 5), dim=1)
    s1 = p1.double().mean(dim=(0, 2, 3))
    s2 = p2.double().mean(dim=(0, 2, 3))
    lab.update_prior(p1)  # first batch initialises the prior
    torch.testing.assert_close(lab.class_prior.double(), s1)
    lab.update_prior(p2)
    torch.testing.assert_close(lab.class_prior.double(), 0.99 * s1 + 0.01 * s2)
    assert int(lab.num_updates) == 2

    # the prior is part of the state dict (checkpointed, resumable)
    state = lab.state_dict()
    assert {'class_prior', 'num_updates'} <= set(state)
    fresh = MODELS.build(dict(type='AdaptivePseudoLabeler', num_classes=3))
    fresh.load_state_dict(state)
    fresh.update_prior(p1)
    torch.testing.assert_close(fresh.class_prior.double(),
                               0.99 * (0.99 * s1 + 0.01 * s2) + 0.01 * s1)

    uni = MODELS.build(
        dict(
            type='AdaptivePseudoLabeler',
            num_classes=3,
            prior_init='uniform',
            momentum=0.9))
    uni.update_prior(p1)
    torch.testing.assert_close(uni.class_prior.double(), 0.9 / 3 + 0.1 * s1)


def test_prior_update_averages_across_ranks(monkeypatch):
    other_rank = torch.tensor([0.7, 0.2, 0.1])

    def fake_all_reduce(data, op='sum', group=None):
        assert op == 'mean'
        data.add_(other_rank).div_(2)

    monkeypatch.setattr(apl_module.dist, 'get_world_size', lambda *a: 2)
    monkeypatch.setattr(apl_module.dist, 'all_reduce', fake_all_reduce)
    lab = MODELS.build(dict(type='AdaptivePseudoLabeler', num_classes=3))
    probs = torch.tensor([0.1, 0.6, 0.3]).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    lab.update_prior(probs)
    torch.testing.assert_close(lab.class_prior, torch.tensor([0.4, 0.4, 0.2]))


@pytest.mark.parametrize('min_threshold,zeta,beta', [
    (None, None, None), (0.2, None, None), (None, 0.6, 3e-3),
    (0.1, 0.9, 5e-4)])
def test_thresholds_and_labels_against_float64(min_threshold, zeta, beta):
    """Eq. 3-4 in float64; ``zeta``/``beta`` None: the labeler's defaults,
    which must be the paper's 0.75 and 1e-3."""
    torch.manual_seed(0)
    N, C = 3, 4
    probs = torch.softmax(3 * torch.randn(N, C, 5, 6), dim=1)
    cfg = dict(type='AdaptivePseudoLabeler', num_classes=C,
               min_threshold=min_threshold)
    if zeta is not None:
        cfg.update(zeta=zeta, beta=beta)
    else:
        zeta, beta = 0.75, 1e-3  # SAC paper, Sec. 3.3
    lab = MODELS.build(cfg)
    prior = torch.tensor([0.6, 1e-3, 2e-4, 0.2])
    lab.class_prior.copy_(prior)
    labels, conf, theta = lab(probs)

    p = probs.double().numpy()
    chi = prior.double().numpy()
    peak = p.reshape(N, C, -1).max(axis=2)
    ref_theta = zeta * (1 - np.exp(-chi / beta))[None] * peak
    if min_threshold is not None:
        ref_theta = np.maximum(ref_theta, min_threshold)
    np.testing.assert_allclose(theta.numpy(), ref_theta, rtol=1e-5, atol=1e-7)
    ref_conf = p.max(axis=1)
    ref_arg = p.argmax(axis=1)
    ref_labels = np.where(
        ref_conf > np.take_along_axis(
            ref_theta[:, :, None, None].repeat(5, 2).repeat(6, 3),
            ref_arg[:, None],
            axis=1)[:, 0], ref_arg, 255)
    np.testing.assert_allclose(conf.numpy(), ref_conf, rtol=1e-6)
    np.testing.assert_array_equal(labels.numpy(), ref_labels)
    assert labels.dtype == torch.long
    assert (labels == 255).any() and (labels != 255).any()


def test_pseudo_labels_of_channels_last_maps():
    """Channels-last maps (the fused maps of SAC) give exactly the labels,
    confidences, thresholds and prior of the same values stored plainly,
    ties going to the first class as with ``max``."""
    torch.manual_seed(0)
    probs = torch.softmax(3 * torch.randn(3, 5, 6, 7), dim=1)
    probs[0, :, 0, 0] = torch.tensor([0.3, 0.3, 0.2, 0.1, 0.1])  # a tie
    last = probs.contiguous(memory_format=torch.channels_last)
    assert not last.is_contiguous()
    cfg = dict(type='AdaptivePseudoLabeler', num_classes=5)
    plain, chl = MODELS.build(cfg), MODELS.build(cfg)
    plain.update_prior(probs)
    chl.update_prior(last)
    torch.testing.assert_close(chl.class_prior, plain.class_prior)
    chl.class_prior.copy_(plain.class_prior)
    for a, b in zip(plain(probs), chl(last)):
        assert torch.equal(a, b)
    assert plain(probs)[0][0, 0, 0] in (0, 255)
    assert torch.equal(apl_module.class_max(last)[1], probs.argmax(1))


# ----------------------------------------------------------------------------
# FocalConfidenceLoss
# ----------------------------------------------------------------------------


def _focal_reference(logits, labels, conf, prior, lam, avg_non_ignore):
    logits = logits.double()
    valid = labels != 255
    lab = labels.clone()
    lab[~valid] = 0
    logp = torch.log_softmax(logits, 1).gather(1, lab[:, None])[:, 0]
    w = conf.double() * (1 - prior.double()[lab])**lam
    per_pix = torch.where(valid, -w * logp, torch.zeros_like(logp))
    if avg_non_ignore:
        return per_pix.sum() / valid.sum()
    return per_pix.sum() / per_pix.numel()


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_focal_confidence_loss_value_and_gradient(avg_non_ignore):
    torch.manual_seed(0)
    N, C, H, W = 2, 5, 4, 6
    logits = torch.randn(N, C, H, W, requires_grad=True)
    labels = torch.randint(0, C, (N, H, W))
    labels[torch.rand(N, H, W) < 0.3] = 255
    conf = torch.rand(N, H, W)
    prior = torch.softmax(torch.randn(C), 0)
    loss_fn = MODELS.build(
        dict(
            type='FocalConfidenceLoss',
            loss_weight=2.0,
            avg_non_ignore=avg_non_ignore))
    assert loss_fn.loss_name == 'loss_focal_conf'
    loss = loss_fn(logits, labels, conf, prior)
    assert loss.dtype == torch.float32 and loss.dim() == 0
    (grad, ) = torch.autograd.grad(loss, logits)

    logits64 = logits.detach().double().requires_grad_(True)
    ref = 2.0 * _focal_reference(logits64, labels, conf, prior, 3.0,
                                 avg_non_ignore)
    (ref_grad, ) = torch.autograd.grad(ref, logits64)
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-4, atol=1e-7)


def test_focal_confidence_loss_options():
    logits = torch.randn(1, 3, 2, 2).half()
    labels = torch.tensor([[[0, 255], [2, 1]]])
    conf = torch.ones(1, 2, 2)
    prior = torch.zeros(3)
    loss_fn = MODELS.build(dict(type='FocalConfidenceLoss'))
    per_pix = loss_fn(logits, labels, conf, prior, reduction_override='none')
    assert per_pix.dtype == torch.float32 and per_pix[0, 0, 1] == 0
    # lambda = 0, conf = 1, prior = 0: plain CE summed over valid / all
    ce = F.cross_entropy(
        logits.float(), labels, ignore_index=255, reduction='sum')
    torch.testing.assert_close(loss_fn(logits, labels, conf, prior), ce / 4)
    with pytest.raises(ValueError, match='resize'):
        loss_fn(logits, labels[:, :1], conf[:, :1], prior)


# ----------------------------------------------------------------------------
# VGG16DeepLabV2
# ----------------------------------------------------------------------------


def test_vgg16_deeplabv2_stride_channels_and_keys():
    net = MODELS.build(dict(type='VGG16DeepLabV2'))
    (out, ) = net(torch.rand(1, 3, 40, 56))
    assert out.shape == (1, 1024, 5, 7)  # output stride 8
    # torchvision vgg16 layer indices (pretrained weights load directly)
    convs = sorted(
        int(k.split('.')[1]) for k in net.state_dict()
        if k.startswith('features.') and k.endswith('.weight'))
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert net.features[28].dilation == (2, 2)
    assert net.fc6[0].dilation == (4, 4) and net.fc7[0].out_channels == 1024

    bn = MODELS.build(
        dict(
            type='VGG16DeepLabV2',
            norm_cfg=dict(type='BN'),
            out_indices=(0, 1, 2, 3, 4, 5),
            norm_eval=True,
            dropout_ratio=0.5))
    outs = bn(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512, 512, 1024]
    assert [32 // o.shape[-1] for o in outs] == [1, 2, 4, 8, 8, 8]
    bn_convs = sorted({
        int(k.split('.')[1])
        for k in bn.state_dict()
        if k.startswith('features.') and k.endswith('.weight')
        and bn.features[int(k.split('.')[1])].__class__.__name__ == 'Conv2d'
    })
    # torchvision vgg16_bn indices
    assert bn_convs == [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40]
    bn.train()
    assert not bn.features[1].training and bn.fc6.training


# ----------------------------------------------------------------------------
# ClassBalancedTargetSampler and class statistics
# ----------------------------------------------------------------------------


class _PairDataset:
    """Stand-in for UDADataset: only the lengths matter to the sampler."""

    def __init__(self, source_len, target_len):
        self.source_len = source_len
        self.target_len = target_len

    def __len__(self):
        return self.source_len


def _skewed_stats():
    """100 images; class 0 everywhere, class 1 in 0..49, class 2 in 50..97,
    class 3 only in images 98 and 99."""
    stats = np.zeros((100, 4))
    stats[:, 0] = 0.6
    stats[:50, 1] = 0.4
    stats[50:98, 2] = 0.4
    stats[98:, 3] = [0.01, 0.03]
    return stats


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def _build_sampler(path, target_len=100, **kwargs):
    cfg = dict(
        type='ClassBalancedTargetSampler',
        class_stats_file=str(path),
        seed=7,
        **kwargs)
    return DATA_SAMPLERS.build(
        cfg, default_args=dict(dataset=_PairDataset(30, target_len)))


def test_class_balanced_sampler_balances_classes(tmp_path):
    path = tmp_path / 'stats.npy'
    stats = _skewed_stats()
    np.save(path, stats)
    sampler = _build_sampler(path, uniform_ratio=0.)
    tgt = np.array([t for _, t in _take(sampler, 20000)])
    # exact image distribution: class uniform, then chi_cl / sum_n chi_cn
    expected = (stats / stats.sum(0)).mean(1)
    hist = np.bincount(tgt, minlength=100) / len(tgt)
    assert 0.5 * np.abs(hist - expected).sum() < 0.05
    # the rare class is drawn ~1/4 of the time (vs 2% uniformly), and
    # image 99 three times as often as image 98 (chi 0.03 vs 0.01)
    rare = np.isin(tgt, [98, 99]).mean()
    assert abs(rare - (0.25 + 0.25 * 2 / 100)) < 0.02
    assert 2.3 < (tgt == 99).sum() / (tgt == 98).sum() < 3.9
    # the classes of the drawn images: every class is drawn for ~1/4 of the
    # samples; images containing class c are hit at least that often
    for c in range(4):
        assert (stats[tgt, c] > 0).mean() > 0.25 - 0.02

    uniform = _build_sampler(path, uniform_ratio=1.)
    tgt_u = np.array([t for _, t in _take(uniform, 20000)])
    assert abs(np.isin(tgt_u, [98, 99]).mean() - 0.02) < 0.01


def test_class_balanced_sampler_deterministic_and_rank_split(
        tmp_path, monkeypatch):
    path = tmp_path / 'stats.json'
    path.write_text(json.dumps(dict(class_stats=_skewed_stats().tolist())))
    a = _take(_build_sampler(path), 300)
    b = _take(_build_sampler(path), 300)
    assert a == b
    assert all(0 <= t < 100 and 0 <= s < 30 for s, t in a)
    c = _take(
        DATA_SAMPLERS.build(
            dict(
                type='ClassBalancedTargetSampler',
                class_stats_file=str(path),
                seed=8),
            default_args=dict(dataset=_PairDataset(30, 100))), 300)
    assert a != c

    per_rank = []
    for rank in range(2):
        monkeypatch.setattr(
            uda_sampler, 'get_dist_info', lambda r=rank: (r, 2))
        per_rank.append(_take(_build_sampler(path), 150))
    # the ranks take disjoint positions of the one common stream
    assert per_rank[0] == a[0::2] and per_rank[1] == a[1::2]
    assert per_rank[0] != per_rank[1]


def test_class_balanced_sampler_file_errors(tmp_path):
    path = tmp_path / 'stats.npy'
    np.save(path, _skewed_stats())
    with pytest.raises(ValueError, match=r'stats\.npy.*100 rows.*90 images'):
        _build_sampler(path, target_len=90)
    bad = _skewed_stats()
    bad[3, 1] = -0.5
    bad_path = tmp_path / 'bad_stats.npy'
    np.save(bad_path, bad)
    with pytest.raises(ValueError, match=r'bad_stats\.npy.*negative'):
        _build_sampler(bad_path)
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        _build_sampler(tmp_path / 'missing.npy')


def test_per_image_class_stats_and_finalize():
    logits = torch.randn(3, 4, 5, 6)
    soft = cbs.per_image_class_stats(logits, 'soft')
    torch.testing.assert_close(
        soft,
        torch.softmax(logits.double(), 1).mean(dim=(2, 3)))
    torch.testing.assert_close(
        cbs.per_image_class_stats(logits[1], 'soft'), soft[1])
    counts = cbs.per_image_class_stats(logits, 'count')
    pred = logits.argmax(1)
    for n in range(3):
        for c in range(4):
            assert counts[n, c] == (pred[n] == c).sum()
    stats = np.array([[2., 0., 1.], [6., 0., 3.]])
    np.testing.assert_allclose(
        cbs.finalize_class_stats(stats, 'count'),
        [[0.25, 0., 0.25], [0.75, 0., 0.75]])
    np.testing.assert_array_equal(
        cbs.finalize_class_stats(stats, 'soft'), stats)


def test_compute_class_stats_dataset_selection():
    path = osp.join(
        osp.dirname(__file__), '..', 'tools', 'compute_class_stats.py')
    spec = importlib.util.spec_from_file_location('compute_class_stats', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = Config(
        dict(
            test_pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadMappedAnnotations'),
                dict(type='PackSegInputs')
            ],
            train_dataloader=dict(
                dataset=dict(
                    type='UDADataset',
                    source=dict(type='A'),
                    target=dict(type='B', pipeline=[dict(
                        type='RandomFlip')])))))
    ds = tool.select_dataset_cfg(cfg, 'target', keep_pipeline=False)
    assert ds['type'] == 'B'
    assert [t['type']
            for t in ds['pipeline']] == ['LoadImageFromFile', 'PackSegInputs']
    ds = tool.select_dataset_cfg(cfg, 'target', keep_pipeline=True)
    assert [t['type'] for t in ds['pipeline']] == ['RandomFlip']
