# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Rendering a scene: lighting, textures and camera effects on the
material map; :func:`render_scene`, a pure function of (seed, domain,
index)."""
import math
from typing import Tuple

import cv2
import numpy as np

from .camera import _Camera, _fill3d, _ground_quad
from .canvas import _Canvas
from .classes import DOMAINS, LANE, ROAD, SIDEWALK, TERRAIN, _DOMAIN_CODE
from .objects import _u
from .scene import build_scene
from .styles import _EFFECTS


def _smooth_noise(rng, H, W, cell):
    h, w = max(2, int(math.ceil(H / cell)) + 1), max(2, int(
        math.ceil(W / cell)) + 1)
    n = rng.standard_normal((h, w)).astype(np.float32)
    return cv2.resize(n, (W, H), interpolation=cv2.INTER_CUBIC)


def _render(S: _Canvas, cam: _Camera, rng, info) -> np.ndarray:
    H, W = S.h, S.w
    mat = S.mat
    rgb = np.asarray(S.rgb, np.float32)
    tex = np.asarray(S.tex, np.float32)
    img = rgb[mat]
    used = tex.any(0)
    if used.any():
        mod = np.ones((H, W), np.float32)
        if used[0]:
            lf = 0.7 * _smooth_noise(rng, H, W, 24) + \
                0.5 * _smooth_noise(rng, H, W, 6)
            mod += tex[:, 0][mat] * lf
        if used[1]:
            mod += tex[:, 1][mat] * rng.standard_normal(
                (H, W), dtype=np.float32)
        if used[2]:
            period = rng.uniform(4.5, 7.0)
            v = np.arange(H, dtype=np.float32)[:, None]
            mod += tex[:, 2][mat] * np.sin(2 * np.pi * v / period)
        if used[3]:
            period = rng.uniform(3.0, 4.5)
            u = np.arange(W, dtype=np.float32)[None, :]
            mod += tex[:, 3][mat] * np.sin(2 * np.pi * u / period)
        if used[4]:
            v = np.arange(H, dtype=np.float32)[:, None]
            mod += tex[:, 4][mat] * np.clip(v / max(cam.hv, 1.0), 0, 1.2)
        img *= mod[..., None]

    fx = _EFFECTS[S.domain]
    if fx is None:
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    light = np.ones((H, W), np.float32)
    # Cast shadows on the ground: facades on the sun side, vehicles.
    if rng.random() < fx['shadow_p']:
        shade = np.ones((H, W), np.float32)
        sun = -1 if rng.random() < 0.5 else 1
        dark = _u(rng, fx['shadow'])
        slope = rng.uniform(0.3, 0.9)
        for side, xf, za, zb, bh in info['shadows']:
            if side != sun:
                continue
            xs = xf - side * bh * slope
            _fill3d(S, cam, _ground_quad(min(xf, xs), max(xf, xs), za, zb),
                    dark, target=shade)
        for x, z, l, w in info['cars']:
            dx = -sun * 0.5
            _fill3d(S, cam, _ground_quad(x - w / 2 + min(dx, 0) - 0.1,
                                         x + w / 2 + max(dx, 0) + 0.1,
                                         z - l / 2, z + l / 2 + 0.3),
                    dark * 0.9, target=shade)
        shade = cv2.GaussianBlur(shade, (0, 0), 1.2)
        is_ground = np.isin(np.asarray(S.cls), (ROAD, SIDEWALK, TERRAIN, LANE))
        light = np.where(is_ground[mat], shade, light)
    # Illumination gradient and vignetting.
    a = _u(rng, fx['gradient'])
    phi = rng.uniform(0, 2 * math.pi)
    xn = (np.arange(W, dtype=np.float32) / W - 0.5)[None, :]
    yn = (np.arange(H, dtype=np.float32) / H - 0.5)[:, None]
    light *= 1.0 + a * (math.cos(phi) * xn + math.sin(phi) * yn)
    light *= 1.0 - _u(rng, fx['vignette']) * (xn * xn + yn * yn) * 2
    # Exposure and colour cast, then gamma (a LUT on 8 bits).
    gain = _u(rng, fx['exposure']) * (1 + rng.normal(0, fx['cast'], 3))
    img *= light[..., None] * gain.astype(np.float32)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    gamma = _u(rng, fx['gamma'])
    lut = np.rint(255.0 * (np.arange(256) / 255.0)**gamma).astype(np.uint8)
    img = cv2.LUT(img, lut)
    # Optics and sensor.
    img = cv2.GaussianBlur(img, (0, 0), _u(rng, fx['blur']))
    out = rng.standard_normal(img.shape, dtype=np.float32)
    out *= np.float32(_u(rng, fx['noise']))
    out += img
    out += 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _rng(seed: int, domain: str, index: int):
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), _DOMAIN_CODE[domain], int(index)]))


def render_scene(domain: str, seed: int, index: int,
                 size: Tuple[int, int] = (512, 256)):
    """Render one scene.

    Args:
        domain (str): ``'gta'``, ``'synthia'`` or ``'cityscapes'``.
        seed (int): Benchmark seed.
        index (int): Scene index within the domain (any split).
        size (tuple): ``(width, height)``.

    Returns:
        tuple: ``(image, classes, instances)``: RGB uint8 (H, W, 3), the
        internal class map uint8 (H, W) (19 train ids, 19 = lane marking,
        20 = ego vehicle, 255 = void; see :func:`label_ids`) and instance
        ids uint16 (H, W) (0 for stuff).
    """
    if domain not in _DOMAIN_CODE:
        raise ValueError(f'unknown domain {domain!r}, expected one of '
                         f'{DOMAINS}')
    width, height = int(size[0]), int(size[1])
    rng = _rng(seed, domain, index)
    S = _Canvas(width, height, domain, rng)
    cam, info = build_scene(S, rng, domain)
    img = _render(S, cam, rng, info)
    classes = np.asarray(S.cls, np.uint8)[S.mat]
    instances = np.asarray(S.inst, np.uint16)[S.mat]
    return img, classes, instances
