# Copyright (c) mmseg_uda contributors. All rights reserved.
"""The pinhole camera over the ground plane and the 3-D primitives it
projects (polygons, boxes, billboards)."""
import math

import cv2
import numpy as np

from .canvas import _LIM, _ZNEAR, _Canvas


class _Camera:
    """Pinhole camera at (0, cam_h, 0) looking along +Z (yawed by ``yaw``);
    pitch is folded into the horizon row ``hv``."""

    def __init__(self, width, height, f, cam_h, hv, yaw):
        self.w, self.h = width, height
        self.f, self.cam_h, self.hv = f, cam_h, hv
        self.cx = width / 2.0
        self.c, self.s = math.cos(yaw), math.sin(yaw)

    def to_cam(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, np.float64)
        out = p.copy()
        out[..., 0] = p[..., 0] * self.c - p[..., 2] * self.s
        out[..., 2] = p[..., 0] * self.s + p[..., 2] * self.c
        return out

    def project_cam(self, pc: np.ndarray) -> np.ndarray:
        """Pixel coordinates of camera-space points (Z >= _ZNEAR), clipped
        to +-_LIM."""
        z = np.maximum(pc[..., 2], 1e-6)
        out = np.empty(pc.shape[:-1] + (2, ))
        out[..., 0] = self.cx + self.f * pc[..., 0] / z
        out[..., 1] = self.hv + self.f * (self.cam_h - pc[..., 1]) / z
        return np.clip(out, -_LIM, _LIM, out=out)

    def ground_depth(self, v: float) -> float:
        """Camera-space depth of the ground at image row ``v`` (> hv)."""
        return self.f * self.cam_h / max(v - self.hv, 1e-3)


def _clip_near(pc: np.ndarray) -> np.ndarray:
    """Clip a camera-space polygon (k, 3) against the plane Z = _ZNEAR."""
    out = []
    k = len(pc)
    for i in range(k):
        a, b = pc[i], pc[(i + 1) % k]
        ina, inb = a[2] >= _ZNEAR, b[2] >= _ZNEAR
        if ina:
            out.append(a)
        if ina != inb:
            t = (_ZNEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.asarray(out) if out else np.zeros((0, 3))


def _fill3d(S: _Canvas, cam: _Camera, polys, m, target=None) -> None:
    """Fill world-space convex polygons (n, k, 3) (or one (k, 3))."""
    polys = np.asarray(polys, np.float64)
    if polys.ndim == 2:
        polys = polys[None]
    pc = cam.to_cam(polys)
    front = pc[..., 2] >= _ZNEAR
    full = front.all(-1)
    part = front.any(-1) & ~full
    if full.any():
        uv = cam.project_cam(pc[full])
        if target is None and len(uv) > 1:
            S.polys(uv, m)
        else:
            for q in uv:
                S.poly(q, m, target)
    for i in np.nonzero(part)[0]:
        q = _clip_near(pc[i])
        if len(q) >= 3:
            S.poly(cam.project_cam(q), m, target)


def _ground_quad(x0, x1, z0, z1, y=0.0):
    return np.array([[x0, y, z0], [x1, y, z0], [x1, y, z1], [x0, y, z1]])


# Box faces: (name, corner indices (corner = ix + 2 * iy + 4 * iz), local
# outward normal).
_FACES = (
    ('front', (0, 1, 3, 2), (0.0, 0.0, -1.0)),
    ('back', (4, 5, 7, 6), (0.0, 0.0, 1.0)),
    ('left', (0, 2, 6, 4), (-1.0, 0.0, 0.0)),
    ('right', (1, 3, 7, 5), (1.0, 0.0, 0.0)),
    ('bottom', (0, 1, 5, 4), (0.0, -1.0, 0.0)),
    ('top', (2, 3, 7, 6), (0.0, 1.0, 0.0)),
)


_FACE_IDX = [np.array(idx) for _, idx, _ in _FACES]


def _box(S, cam, cx, cz, w, l, y0, y1, yaw, m, faces=None, shade=True):
    """Draw an oriented box (local x = width, local z = length, yawed about
    the vertical axis); returns the visible face names.

    ``faces`` maps face names ('front', 'back', 'left', 'right', 'top',
    'side' (left/right), 'end' (front/back)) to materials; side faces are
    drawn a bit darker and tops a bit lighter than end faces when ``shade``.
    """
    c, s = math.cos(yaw), math.sin(yaw)
    hw, hl = 0.5 * w, 0.5 * l
    cc, cs = cam.c, cam.s
    pts = []
    for i in range(8):  # corner index = ix + 2 * iy + 4 * iz
        ax = hw if i & 1 else -hw
        az = hl if i & 4 else -hl
        pts.append((cx + ax * c + az * s, y1 if i & 2 else y0,
                    cz - ax * s + az * c))
    zcs = [X * cs + Z * cc for X, _, Z in pts]
    P = None
    if min(zcs) >= _ZNEAR:
        f4, u4, v4, ch = 4 * cam.f, 4 * cam.cx, 4 * cam.hv, cam.cam_h
        P = np.array([(u4 + f4 * (X * cc - Z * cs) / zc,
                       v4 + f4 * (ch - Y) / zc)
                      for (X, Y, Z), zc in zip(pts, zcs)])
        np.clip(P, -4 * _LIM, 4 * _LIM, out=P)
        P = np.rint(P).astype(np.int32)
    cy = 0.5 * (y0 + y1)
    half = (hw, 0.5 * (y1 - y0), hl)
    faces = faces or {}
    shown = []
    for (name, idx, n), idx_arr in zip(_FACES, _FACE_IDX):
        nx, ny, nz = n[0] * c + n[2] * s, n[1], -n[0] * s + n[2] * c
        e = half[0] if n[0] else (half[1] if n[1] else half[2])
        # outward normal . (camera - face centre) > 0  <=> face visible
        fx, fy, fz = cx + nx * e, cy + ny * e, cz + nz * e
        if nx * -fx + ny * (cam.cam_h - fy) + nz * -fz <= 1e-9:
            continue
        group = 'side' if name in ('left', 'right') else (
            'end' if name in ('front', 'back') else name)
        fm = faces.get(name, faces.get(group, m))
        if shade and fm == m and group == 'side':
            fm = faces.setdefault('_side_shade', S.derive(m, scale=0.86))
        elif shade and fm == m and group == 'top':
            fm = faces.setdefault('_top_shade', S.derive(m, scale=1.08))
        if P is not None:
            cv2.fillConvexPoly(S.mat, P[idx_arr], int(fm), cv2.LINE_8, 2)
        else:
            _fill3d(S, cam, np.array([pts[i] for i in idx]), fm)
        shown.append(name)
    return shown


class _Billboard:
    """A vertical plane facing the camera at a ground point: local metric
    coordinates (x right, y up) to pixels."""

    def __init__(self, cam: _Camera, x: float, z: float, y0: float = 0.0):
        pc = cam.to_cam(np.array([x, y0, z]))
        self.depth = pc[2]
        self.ok = pc[2] > 0.8
        d = max(pc[2], 1e-3)
        self.s = cam.f / d
        self.u0 = cam.cx + cam.f * pc[0] / d
        self.v0 = cam.hv + cam.f * (cam.cam_h - y0) / d

    def pts(self, xy) -> np.ndarray:
        xy = np.asarray(xy, float).reshape(-1, 2)
        return np.stack([self.u0 + self.s * xy[:, 0],
                         self.v0 - self.s * xy[:, 1]], -1)

    def pt(self, x, y):
        return (self.u0 + self.s * x, self.v0 - self.s * y)
