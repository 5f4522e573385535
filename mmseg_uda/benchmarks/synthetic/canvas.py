# Copyright (c) mmseg_uda contributors. All rights reserved.
"""The drawing surface: a material-index map and its material table."""
import math
from typing import Optional

import cv2
import numpy as np

from .classes import VOID
from .styles import _PALETTES, _TEXTURES

_ZNEAR = 0.3
_LIM = 1e6  # pixel coordinate clamp (points near the near plane)


class _Canvas:
    """A material-index map plus the table of materials.

    Every primitive is filled with a material index; a material carries the
    class, the instance id, the colour and the texture of a surface. Image
    and label are derived from the same map, so they align exactly.
    """

    def __init__(self, width: int, height: int, domain: str, rng):
        self.w, self.h = width, height
        self.domain = domain
        self.rng = rng
        self.palette = _PALETTES[domain]
        self.textures = _TEXTURES[domain]
        self.mat = np.zeros((height, width), np.int32)
        self.cls = [VOID]
        self.inst = [0]
        self.rgb = [(0.0, 0.0, 0.0)]
        self.tex = [(0.0, 0.0, 0.0, 0.0, 0.0)]
        self._next_inst = 1
        # Colour choices and jitters come from their own stream, drawn in
        # blocks (numpy per-call overhead dominates otherwise).
        self._crng = np.random.default_rng(int(rng.integers(2**62)))
        self._uni, self._nrm = [], []

    def _uniform(self) -> float:
        if not self._uni:
            self._uni = self._crng.random(512).tolist()
        return self._uni.pop()

    def _normal(self) -> float:
        if not self._nrm:
            self._nrm = self._crng.standard_normal(1536).tolist()
        return self._nrm.pop()

    def new_instance(self) -> int:
        self._next_inst += 1
        return self._next_inst - 1

    def material(self, kind: str, cls: int, inst: int = 0,
                 rgb=None, scale: float = 1.0) -> int:
        """Register a material of ``kind`` (colour drawn from the palette)."""
        if rgb is None:
            colours, jitter = self.palette[kind]
            base = colours[min(int(self._uniform() * len(colours)),
                               len(colours) - 1)]
            rgb = [c + jitter * self._normal() for c in base]
        self.cls.append(cls)
        self.inst.append(inst)
        self.rgb.append(tuple(min(max(c * scale, 0.0), 255.0) for c in rgb))
        self.tex.append(self.textures.get(kind, (0.0, 0.0, 0.0, 0.0, 0.0)))
        return len(self.cls) - 1

    def derive(self, m: int, kind: Optional[str] = None,
               scale: float = 1.0) -> int:
        """A copy of material ``m`` with its colour scaled (face shading)."""
        self.cls.append(self.cls[m])
        self.inst.append(self.inst[m])
        self.rgb.append(
            tuple(min(max(c * scale, 0.0), 255.0) for c in self.rgb[m]))
        self.tex.append(self.tex[m] if kind is None else self.textures.get(
            kind, (0.0, 0.0, 0.0, 0.0, 0.0)))
        return len(self.cls) - 1

    # -- 2-D primitives (pixel coordinates) ------------------------------
    def poly(self, pts, m: int, target=None) -> None:
        if len(pts) < 3:
            return
        p = np.rint(np.asarray(pts, np.float64) * 4).astype(np.int32)
        cv2.fillConvexPoly(self.mat if target is None else target, p,
                           int(m) if target is None else float(m),
                           cv2.LINE_8, 2)

    def polys(self, pts: np.ndarray, m: int) -> None:
        """Fill several non-overlapping polygons (n, k, 2) with one call."""
        if not len(pts):
            return
        p = np.rint(np.asarray(pts, np.float64) * 4).astype(np.int32)
        cv2.fillPoly(self.mat, list(p), int(m), cv2.LINE_8, 2)

    def circle(self, c, r: float, m: int, thickness: int = -1) -> None:
        if r <= 0.2:
            return
        cc = (int(round(min(max(c[0], -_LIM), _LIM) * 4)),
              int(round(min(max(c[1], -_LIM), _LIM) * 4)))
        cv2.circle(self.mat, cc, int(round(min(r, _LIM) * 4)), int(m),
                   thickness, cv2.LINE_8, 2)

    def ellipse(self, c, axes, m: int) -> None:
        cc = (int(round(c[0] * 4)), int(round(c[1] * 4)))
        ax = (max(1, int(round(axes[0] * 4))), max(1, int(round(axes[1] * 4))))
        cv2.ellipse(self.mat, cc, ax, 0, 0, 360, int(m), -1, cv2.LINE_8, 2)

    def segment(self, p0, p1, width: float, m: int) -> None:
        """A thick segment (pixel units) as a quad, at least ~1 px wide."""
        p0 = np.asarray(p0, float)
        p1 = np.asarray(p1, float)
        d = p1 - p0
        n = math.hypot(d[0], d[1])
        if n < 1e-6:
            return
        nrm = np.array([-d[1], d[0]]) / n * max(width, 1.2) / 2
        self.poly([p0 + nrm, p1 + nrm, p1 - nrm, p0 - nrm], m)
