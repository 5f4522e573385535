"""Procedural synthetic domain-shift benchmark for semantic segmentation UDA.

Street scenes are generated from a tiny 3-D world (a pinhole camera over a
ground plane: road in perspective, sidewalks, facades along the street,
intersections, poles with signs and lights, trees, cars, trucks, buses,
trams, pedestrians, riders with bicycles and motorcycles) and written in the
*real* on-disk formats of the UDA benchmarks, so that the whole pipeline
(loaders, label mappings, UDA training, evaluation) runs end to end on a CPU
in minutes.

Domains:

- ``'gta'`` (source, "rendered"): flat per-class colours with small
  per-instance jitter, hard edges, uniform lighting; street-aligned camera.
  Written as GTA5: ``gta/images/NNNNN.png`` and palette-mode
  ``gta/labels/NNNNN.png`` holding Cityscapes label ids. A couple of pairs
  have a label 2 px smaller than the image, like the real release.
- ``'synthia'`` (source, "rendered", SYNTHIA-RAND-like): a different flat
  palette, random camera heights, pitch and yaw, objects scattered at random
  with random orientations; no terrain, truck or train (16-class protocol);
  lane markings labelled ``lanemarking`` (22). Written as
  ``synthia/RAND_CITYSCAPES/RGB/NNNNNNN.png`` and 16-bit 3-channel
  ``synthia/RAND_CITYSCAPES/GT/LABELS/NNNNNNN.png`` (class id in R).
- ``'cityscapes'`` (target, "real"): per-class colour distributions shifted
  (hue / saturation / brightness per class, muted car paints and clothes,
  overcast sky, overlaps between some classes), textures (grain, stains,
  leafy noise, facade stripes), illumination gradients, cast shadows,
  vignetting, colour casts, blur and sensor noise; a narrower street, lower
  horizon, camera mounted lower, differently proportioned cars and the ego
  vehicle's bonnet (label id 1, ``ego vehicle``). Shapes, layout and the
  brightness ordering of the classes are kept, so adaptation has something
  to work with. Written as Cityscapes ``leftImg8bit`` / ``gtFine``
  ``*_gtFine_labelIds.png`` in ``train`` and ``val`` splits.

Everything is a pure function of ``(seed, domain, index)``: regeneration is
byte-identical, and images do not depend on how many are generated.

Example::

    from mmseg_uda.datasets.synthetic_scenes import generate_benchmark
    generate_benchmark('data/synthetic', seed=0)

or ``python tools/make_synthetic.py --out data/synthetic``.
"""
import colorsys
import json
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .formats import (save_cityscapes_label, save_gta5_label,
                      save_synthia_label)

__all__ = [
    'CLASSES', 'CITYSCAPES_LABEL_IDS', 'SYNTHIA_LABEL_IDS', 'DOMAINS',
    'DOMAIN_CLASSES', 'TRAIN_CITIES', 'VAL_CITIES', 'render_scene',
    'label_ids', 'generate_benchmark', 'mismatched_gta_indices'
]

# ---------------------------------------------------------------------------
# Classes and label ids
# ---------------------------------------------------------------------------

#: The 19 Cityscapes classes, in train-id order (the internal class index).
CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
           'traffic light', 'traffic sign', 'vegetation', 'terrain', 'sky',
           'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
           'bicycle')
(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEG, TERRAIN, SKY,
 PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTO, BIKE) = range(19)
LANE = 19  # lane marking: road in Cityscapes / GTA5, lanemarking in SYNTHIA
EGO = 20  # ego-vehicle bonnet (target only): Cityscapes id 1 'ego vehicle'
VOID = 255  # unlabelled clutter: id 0 everywhere

#: Cityscapes label id of each class (GTA5 labels use the same ids).
CITYSCAPES_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26,
                        27, 28, 31, 32, 33)
#: SYNTHIA label id of each class.
SYNTHIA_LABEL_IDS = (3, 4, 2, 21, 5, 7, 15, 9, 6, 16, 1, 10, 17, 8, 18, 19,
                     20, 12, 11)
CITYSCAPES_EGO_ID = 1
SYNTHIA_LANEMARKING_ID = 22

DOMAINS = ('gta', 'synthia', 'cityscapes')
_DOMAIN_CODE = {'gta': 1, 'synthia': 2, 'cityscapes': 3}
_NO_SYNTHIA = (TERRAIN, TRUCK, TRAIN)
#: Classes drawn in each domain (names).
DOMAIN_CLASSES = {
    'gta': CLASSES,
    'synthia': tuple(c for i, c in enumerate(CLASSES) if i not in _NO_SYNTHIA),
    'cityscapes': CLASSES,
}
TRAIN_CITIES = ('aachen', 'bochum', 'bremen')
VAL_CITIES = ('frankfurt', 'lindau', 'munster')


def _make_lut(ids: Sequence[int], lane: int, ego: int) -> np.ndarray:
    lut = np.zeros(256, np.uint16)  # everything else -> 0 (unlabelled/void)
    lut[:19] = ids
    lut[LANE] = lane
    lut[EGO] = ego
    return lut


_LUTS = {
    'gta': _make_lut(CITYSCAPES_LABEL_IDS, CITYSCAPES_LABEL_IDS[ROAD], 0),
    'cityscapes': _make_lut(CITYSCAPES_LABEL_IDS, CITYSCAPES_LABEL_IDS[ROAD],
                            CITYSCAPES_EGO_ID),
    'synthia': _make_lut(SYNTHIA_LABEL_IDS, SYNTHIA_LANEMARKING_ID, 0),
}


def label_ids(classes: np.ndarray, domain: str) -> np.ndarray:
    """Map an internal class map (19 train ids + lane / ego / void codes) to
    the raw label ids of ``domain`` (uint8 for Cityscapes ids, uint16 for
    SYNTHIA)."""
    ids = _LUTS[domain][classes]
    return ids if domain == 'synthia' else ids.astype(np.uint8)


# ---------------------------------------------------------------------------
# Appearance of the domains
# ---------------------------------------------------------------------------
# Each "kind" of surface has a list of candidate colours (one is drawn per
# instance) and a per-instance jitter std. Textures are multiplicative
# modulations: (low-frequency noise, high-frequency grain, horizontal
# stripes, vertical stripes, vertical gradient).

_CAR_PAINT_RENDERED = [(200, 30, 30), (30, 60, 185), (235, 235, 235),
                       (30, 30, 32), (175, 175, 180), (235, 195, 40),
                       (40, 145, 70), (250, 120, 30), (120, 40, 150)]
_CLOTHES_RENDERED = [(205, 40, 50), (40, 60, 175), (235, 205, 60),
                     (60, 155, 70), (235, 235, 235), (40, 40, 40),
                     (155, 80, 165), (245, 130, 40), (60, 170, 200)]

_PALETTES = {
    'gta': dict(
        sky=([(100, 160, 235)], 8),
        cloud=([(235, 240, 248)], 4),
        road=([(88, 88, 92), (98, 96, 95)], 4),
        lane=([(230, 230, 220), (235, 210, 80)], 4),
        sidewalk=([(172, 164, 160), (182, 176, 166)], 5),
        kerb=([(205, 200, 195)], 4),
        ground=([(140, 175, 85)], 6),
        terrain=([(140, 176, 82), (158, 160, 96)], 7),
        building=([(195, 168, 135), (165, 92, 70), (138, 138, 144),
                   (218, 204, 172), (124, 96, 76), (176, 182, 195)], 8),
        roof=([(110, 80, 70)], 8),
        window=([(60, 85, 125), (45, 55, 80)], 5),
        shop=([(80, 110, 140)], 8),
        wall=([(192, 182, 150), (172, 160, 140)], 6),
        fence=([(142, 110, 72), (122, 122, 120)], 6),
        pole=([(112, 112, 118), (88, 92, 88)], 4),
        light_box=([(42, 42, 36)], 3),
        light_plate=([(52, 52, 48)], 3),
        lamp_red=([(240, 40, 30)], 4),
        lamp_amber=([(245, 175, 30)], 4),
        lamp_green=([(40, 225, 95)], 4),
        lamp_off=([(70, 70, 64)], 3),
        sign=([(30, 80, 205), (235, 200, 40), (205, 40, 40)], 5),
        sign_white=([(240, 240, 240)], 3),
        vegetation=([(52, 128, 42), (68, 145, 52)], 7),
        trunk=([(92, 70, 50)], 5),
        shirt=(_CLOTHES_RENDERED, 8),
        pants=([(40, 50, 95), (60, 60, 62), (120, 100, 70), (30, 30, 30)], 6),
        skin=([(232, 190, 160), (192, 140, 110), (122, 86, 60)], 5),
        hair=([(40, 30, 20), (110, 80, 40), (20, 20, 20)], 4),
        helmet=([(230, 230, 230), (220, 40, 40), (30, 30, 30)], 5),
        car=(_CAR_PAINT_RENDERED, 8),
        glass=([(52, 62, 80)], 4),
        tyre=([(26, 26, 26)], 3),
        taillight=([(225, 25, 25)], 4),
        headlight=([(245, 245, 220)], 4),
        truck=([(232, 232, 226), (242, 142, 40), (60, 100, 172)], 6),
        bus=([(205, 55, 40), (40, 112, 205)], 6),
        train=([(80, 152, 92), (205, 205, 62)], 6),
        moto=([(42, 42, 48)], 4),
        moto_tank=(_CAR_PAINT_RENDERED, 8),
        bike=([(205, 30, 30), (30, 60, 185), (222, 222, 222), (40, 40, 40),
               (40, 162, 60)], 8),
        spokes=([(150, 150, 150)], 8),
        clutter=([(90, 60, 120), (150, 150, 60), (60, 120, 120)], 10),
    ),
    'synthia': dict(
        sky=([(140, 190, 250)], 8),
        cloud=([(240, 244, 250)], 3),
        road=([(108, 104, 100), (100, 100, 104)], 4),
        lane=([(240, 240, 235)], 3),
        sidewalk=([(186, 180, 170), (176, 170, 176)], 5),
        kerb=([(210, 206, 200)], 4),
        ground=([(186, 180, 170)], 5),
        terrain=([(186, 180, 170)], 5),  # never labelled terrain
        building=([(210, 190, 160), (175, 110, 90), (150, 155, 165),
                   (228, 218, 190), (140, 115, 95), (190, 200, 215)], 9),
        roof=([(120, 95, 85)], 8),
        window=([(70, 100, 145), (55, 70, 95)], 6),
        shop=([(95, 125, 155)], 8),
        wall=([(200, 192, 165), (180, 170, 150)], 6),
        fence=([(155, 122, 85), (135, 135, 132)], 6),
        pole=([(125, 125, 132), (100, 105, 100)], 4),
        light_box=([(48, 48, 42)], 3),
        light_plate=([(60, 60, 56)], 3),
        lamp_red=([(250, 50, 40)], 4),
        lamp_amber=([(250, 185, 40)], 4),
        lamp_green=([(50, 235, 110)], 4),
        lamp_off=([(78, 78, 72)], 3),
        sign=([(40, 95, 220), (245, 210, 50), (220, 50, 50)], 5),
        sign_white=([(245, 245, 245)], 3),
        vegetation=([(70, 150, 60), (85, 165, 70)], 7),
        trunk=([(105, 80, 58)], 5),
        shirt=(_CLOTHES_RENDERED, 10),
        pants=([(50, 60, 110), (70, 70, 74), (130, 110, 80), (40, 40, 40)],
               6),
        skin=([(238, 198, 168), (200, 150, 120), (130, 95, 70)], 5),
        hair=([(50, 38, 26), (120, 90, 50), (28, 28, 28)], 4),
        helmet=([(235, 235, 235), (230, 50, 50), (40, 40, 40)], 5),
        car=(_CAR_PAINT_RENDERED, 12),
        glass=([(62, 75, 95)], 5),
        tyre=([(32, 32, 32)], 3),
        taillight=([(235, 35, 35)], 4),
        headlight=([(250, 250, 230)], 4),
        truck=([(232, 232, 226)], 6),
        bus=([(215, 65, 50), (50, 125, 215)], 6),
        train=([(90, 165, 102)], 6),
        moto=([(50, 50, 56)], 4),
        moto_tank=(_CAR_PAINT_RENDERED, 10),
        bike=([(215, 40, 40), (40, 75, 200), (230, 230, 230), (48, 48, 48),
               (50, 175, 70)], 8),
        spokes=([(160, 160, 160)], 8),
        clutter=([(100, 70, 130), (160, 160, 70), (70, 130, 130)], 10),
    ),
}


def _shift_colour(rgb, dh: float, sat: float, val: float):
    """Rotate the hue by ``dh`` degrees and scale saturation and value."""
    h, s_, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in rgb))
    r, g, b = colorsys.hsv_to_rgb((h + dh / 360.0) % 1.0, min(s_ * sat, 1.0),
                                  min(v * val, 1.0))
    return (round(r * 255), round(g * 255), round(b * 255))


# The "real" target's appearance: each kind's source (GTA) colours moved by a
# per-kind (hue shift in degrees, saturation scale, value scale), plus
# colours only the target has. Shifts are global per class (what adaptation
# can learn), saturation drops (real footage is less saturated), and the
# brightness order of the big classes is kept (sky > sidewalk > road, ...).
_TARGET_SHIFT = dict(
    sky=(-10, 0.45, 1.0), cloud=(0, 1.0, 0.9), road=(25, 1.0, 1.20),
    lane=(0, 0.5, 0.85), sidewalk=(-30, 1.6, 0.88), kerb=(0, 1.0, 0.85),
    ground=(-25, 0.65, 0.85), terrain=(-25, 0.65, 0.85),
    building=(15, 0.45, 0.85), roof=(0, 0.6, 0.8), window=(20, 0.4, 0.85),
    shop=(20, 0.4, 0.75), wall=(30, 0.5, 0.85), fence=(40, 0.6, 0.85),
    pole=(0, 1.0, 0.75), light_box=(0, 1.0, 1.3), sign=(0, 0.85, 0.9),
    sign_white=(0, 1.0, 0.92), vegetation=(-30, 0.65, 0.75),
    trunk=(0, 0.8, 0.8), shirt=(0, 0.55, 0.75), pants=(0, 0.6, 0.9),
    skin=(0, 0.85, 0.92), helmet=(0, 0.6, 0.9), car=(0, 0.5, 0.9),
    glass=(0, 0.5, 0.7), truck=(20, 0.6, 0.9), bus=(35, 0.75, 1.0),
    train=(45, 0.7, 1.0), moto=(0, 1.0, 1.0), moto_tank=(0, 0.5, 0.9),
    bike=(0, 0.5, 0.8), spokes=(0, 1.0, 0.75), clutter=(0, 0.8, 0.9))
_TARGET_EXTRA = dict(
    building=[(128, 126, 128), (106, 100, 98)],
    car=[(30, 30, 33), (150, 152, 156), (202, 202, 202), (112, 112, 116)],
    shirt=[(38, 38, 44), (60, 72, 102), (112, 102, 92)],
    pants=[(30, 32, 40), (62, 66, 84)],
    ego=[(38, 40, 44)])
# Kinds whose target colours replace the shifted source colours.
_TARGET_REPLACE = dict(light_plate=[(196, 176, 64), (206, 190, 90)])


def _target_palette(source: dict) -> dict:
    out = {}
    for kind, (colours, jitter) in source.items():
        dh, sat, val = _TARGET_SHIFT.get(kind, (0, 1.0, 1.0))
        out[kind] = ([_shift_colour(c, dh, sat, val) for c in colours] +
                     _TARGET_EXTRA.get(kind, []), jitter + 3)
    for kind, colours in _TARGET_REPLACE.items():
        out[kind] = (colours, out[kind][1])
    out['ego'] = (_TARGET_EXTRA['ego'], 4)
    return out


_PALETTES['cityscapes'] = _target_palette(_PALETTES['gta'])

# (low-frequency noise, grain, horizontal stripes, vertical stripes,
#  vertical gradient) amplitudes per kind.
_TEXTURES = {
    'gta': dict(sky=(0, 0, 0, 0, 0.22), fence=(0, 0, 0, 0.14, 0)),
    'synthia': dict(sky=(0, 0, 0, 0, 0.15), fence=(0, 0, 0, 0.12, 0)),
    'cityscapes': dict(
        sky=(0.04, 0.01, 0, 0, 0.10),
        cloud=(0.04, 0.01, 0, 0, 0.08),
        road=(0.07, 0.05, 0, 0, 0),
        lane=(0.07, 0.06, 0, 0, 0),
        sidewalk=(0.05, 0.05, 0.05, 0, 0),
        kerb=(0.04, 0.04, 0, 0, 0),
        ground=(0.12, 0.08, 0, 0, 0),
        terrain=(0.12, 0.08, 0, 0, 0),
        building=(0.08, 0.04, 0.08, 0, 0),
        roof=(0.06, 0.04, 0, 0, 0),
        window=(0.06, 0.03, 0, 0, 0),
        shop=(0.06, 0.03, 0, 0, 0),
        wall=(0.06, 0.05, 0, 0.04, 0),
        fence=(0.04, 0.04, 0, 0.18, 0),
        pole=(0.03, 0.03, 0, 0, 0),
        vegetation=(0.14, 0.12, 0, 0, 0),
        trunk=(0.06, 0.06, 0, 0, 0),
        car=(0.02, 0.02, 0, 0, 0),
        truck=(0.04, 0.03, 0, 0, 0),
        bus=(0.04, 0.03, 0, 0, 0),
        train=(0.04, 0.03, 0, 0, 0),
        shirt=(0.03, 0.04, 0, 0, 0),
        pants=(0.03, 0.04, 0, 0, 0),
    ),
}

# Image-level effects of the "real" domain.
_EFFECTS = {
    'gta': None,
    'synthia': None,
    'cityscapes': dict(
        gradient=(0.05, 0.20), vignette=(0.05, 0.15), cast=0.02,
        gamma=(0.93, 1.07), exposure=(0.93, 1.07), blur=(0.3, 0.7),
        noise=(1.5, 3.5), shadow_p=0.5, shadow=(0.60, 0.75)),
}

# ---------------------------------------------------------------------------
# Geometry of the domains (lengths in metres, focal and horizon relative to
# the image width / height)
# ---------------------------------------------------------------------------

_GEOMETRY = {
    'gta': dict(
        focal=(0.80, 1.00), horizon=(0.42, 0.52), cam_h=(1.4, 1.9),
        yaw=0.06, road_half=(4.5, 7.5), sidewalk=(3.0, 5.0),
        setback=(0.0, 6.0), bld_h=(6.0, 30.0), terrain=True, p_verge=0.6,
        p_intersection=0.4, n_cars=(2, 6), p_parked=0.3,
        car_w=(1.85, 2.10), car_h=(1.30, 1.50), car_l=(4.4, 5.2),
        cabin=(0.42, 0.50), n_persons=(5, 12), n_riders=(3, 5),
        n_parked2=(1, 3), p_side_rider=0.4, person_h=(1.65, 1.95),
        p_truck=0.35, p_bus=0.4, p_train=0.35, p_wall=0.3, p_fence=0.3,
        p_park=0.15, n_poles=(4, 8), p_mast=0.6, zmax=50.0, zmax_small=20.0,
        random_layout=False, ego=False),
    'synthia': dict(
        focal=(0.70, 0.95), horizon=(0.15, 0.55), cam_h=(1.5, 9.0),
        yaw=0.45, road_half=(4.0, 8.0), sidewalk=(2.5, 6.0),
        setback=(0.0, 6.0), bld_h=(8.0, 40.0), terrain=False, p_verge=0.0,
        p_intersection=0.5, n_cars=(2, 7), p_parked=0.2,
        car_w=(1.80, 2.05), car_h=(1.35, 1.55), car_l=(4.2, 5.0),
        cabin=(0.42, 0.50), n_persons=(6, 15), n_riders=(3, 6),
        n_parked2=(1, 3), p_side_rider=0.5, person_h=(1.60, 1.95),
        p_truck=0.0, p_bus=0.4, p_train=0.0, p_wall=0.3, p_fence=0.3,
        p_park=0.12, n_poles=(4, 8), p_mast=0.4, zmax=50.0, zmax_small=20.0,
        random_layout=True, ego=False),
    'cityscapes': dict(
        focal=(0.95, 1.10), horizon=(0.34, 0.43), cam_h=(1.20, 1.45),
        yaw=0.04, road_half=(3.2, 5.5), sidewalk=(3.0, 4.5),
        setback=(0.0, 3.0), bld_h=(10.0, 25.0), terrain=True, p_verge=0.6,
        p_intersection=0.35, n_cars=(2, 7), p_parked=0.5,
        car_w=(1.70, 1.90), car_h=(1.42, 1.62), car_l=(3.9, 4.6),
        cabin=(0.50, 0.58), n_persons=(5, 12), n_riders=(3, 5),
        n_parked2=(1, 3), p_side_rider=0.4, person_h=(1.60, 1.90),
        p_truck=0.35, p_bus=0.4, p_train=0.35, p_wall=0.3, p_fence=0.3,
        p_park=0.16, n_poles=(4, 8), p_mast=0.15, zmax=50.0, zmax_small=20.0,
        random_layout=False, ego=True),
}

_ZNEAR = 0.3
_LIM = 1e6  # pixel coordinate clamp (points near the near plane)


# ---------------------------------------------------------------------------
# Drawing machinery
# ---------------------------------------------------------------------------


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


def _u(rng, lo_hi):
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


# ---------------------------------------------------------------------------
# Objects
# ---------------------------------------------------------------------------


def _pole(S, cam, x, z, h, w, m, y0=0.0):
    _box(S, cam, x, z, w, w, y0, h, 0.0, m)


def _sign(S, cam, rng, x, z, scale=1.0):
    """A pole with a traffic sign facing the camera."""
    pole_m = S.material('pole', POLE)
    h = _u(rng, (2.4, 3.2)) * scale
    _pole(S, cam, x, z, h, 0.30 * scale, pole_m)
    inst = S.new_instance()
    plate = S.material('sign', SIGN, inst)
    white = S.material('sign_white', SIGN, inst)
    bb = _Billboard(cam, x, z - 0.12)
    if not bb.ok:
        return
    r = _u(rng, (0.50, 0.70)) * scale
    cy = h + r * 0.9
    kind = rng.integers(5)
    if kind == 0:  # round
        S.circle(bb.pt(0, cy), r * bb.s, white)
        S.circle(bb.pt(0, cy), r * 0.8 * bb.s, plate)
    elif kind == 1:  # triangle
        tri = [(-r * 1.1, cy - r * 0.75), (r * 1.1, cy - r * 0.75),
               (0, cy + r * 1.1)]
        S.poly(bb.pts(tri), plate)
        inner = [(-r * 0.7, cy - r * 0.5), (r * 0.7, cy - r * 0.5),
                 (0, cy + r * 0.65)]
        S.poly(bb.pts(inner), white)
    elif kind == 2:  # square with symbol
        S.poly(bb.pts([(-r, cy - r), (r, cy - r), (r, cy + r), (-r, cy + r)]),
               plate)
        S.poly(bb.pts([(-r * .3, cy - r * .6), (r * .3, cy - r * .6),
                       (r * .3, cy + r * .6), (-r * .3, cy + r * .6)]), white)
    elif kind == 3:  # diamond
        S.poly(bb.pts([(0, cy - r * 1.1), (r * 1.1, cy), (0, cy + r * 1.1),
                       (-r * 1.1, cy)]), white)
        S.poly(bb.pts([(0, cy - r * .8), (r * .8, cy), (0, cy + r * .8),
                       (-r * .8, cy)]), plate)
    else:  # wide direction / street-name sign
        S.poly(bb.pts([(-r * 1.6, cy - r * .55), (r * 1.6, cy - r * .55),
                       (r * 1.6, cy + r * .55), (-r * 1.6, cy + r * .55)]),
               plate)
        S.segment(bb.pt(-r * 1.2, cy), bb.pt(r * 1.2, cy), 0.12 * bb.s,
                  white)


def _light_housing(S, cam, rng, x, z, y0, facing, scale=1.0):
    """A traffic-light housing (3 lamps) with its bottom at height y0."""
    inst = S.new_instance()
    box_m = S.material('light_box', LIGHT, inst)
    w, hh = 0.55 * scale, 1.40 * scale
    _box(S, cam, x, z, w, 0.40 * scale, y0, y0 + hh, 0.0, box_m)
    if not facing:
        return
    plate = _Billboard(cam, x, z - 0.16 * scale)
    if plate.ok:  # back plate around the housing
        pm = S.material('light_plate', LIGHT, inst)
        S.poly(plate.pts([(-w * 0.85, y0 - 0.12), (w * 0.85, y0 - 0.12),
                          (w * 0.85, y0 + hh + 0.12),
                          (-w * 0.85, y0 + hh + 0.12)]), pm)
        S.poly(plate.pts([(-w / 2, y0), (w / 2, y0), (w / 2, y0 + hh),
                          (-w / 2, y0 + hh)]), box_m)
    bb = _Billboard(cam, x, z - 0.21 * scale)
    if not bb.ok:
        return
    lit = rng.integers(3)
    kinds = ('lamp_red', 'lamp_amber', 'lamp_green')
    for i in range(3):
        kind = kinds[i] if i == lit else 'lamp_off'
        lm = S.material(kind, LIGHT, inst)
        cyl = y0 + hh * (0.80 - 0.30 * i)
        S.circle(bb.pt(0, cyl), 0.17 * scale * bb.s, lm)


def _traffic_light(S, cam, rng, x, z, scale=1.0):
    pole_m = S.material('pole', POLE)
    h = _u(rng, (2.6, 3.4)) * scale
    _pole(S, cam, x, z, h, 0.30 * scale, pole_m)
    _light_housing(S, cam, rng, x, z - 0.05, h, rng.random() < 0.8, scale)
    if rng.random() < 0.3:  # a second, lower housing
        _light_housing(S, cam, rng, x, z - 0.05, h - 1.7 * scale, True, scale)


def _mast_light(S, cam, rng, x, z, toward, scale=1.0):
    """A mast-arm traffic light: pole at the kerb, arm over the road."""
    pole_m = S.material('pole', POLE)
    h = _u(rng, (5.6, 6.8))
    _pole(S, cam, x, z, h, 0.40 * scale, pole_m)
    arm = _u(rng, (3.5, 6.5))
    _box(S, cam, x + toward * arm / 2, z, arm, 0.18, h - 0.45, h - 0.25, 0.0,
         pole_m)
    n = 1 + int(rng.random() < 0.6)
    for i in range(n):
        xa = x + toward * arm * (0.95 - 0.45 * i)
        _light_housing(S, cam, rng, xa, z - 0.05, h - 0.45 - 1.5 * scale,
                       True, scale)


def _street_lamp(S, cam, rng, x, z, toward):
    pole_m = S.material('pole', POLE)
    h = _u(rng, (6.5, 8.5))
    _pole(S, cam, x, z, h, 0.36, pole_m)
    arm = _u(rng, (1.2, 2.2))
    _box(S, cam, x + toward * arm / 2, z, arm, 0.14, h - 0.2, h, 0.0, pole_m)
    _box(S, cam, x + toward * arm, z, 0.75, 0.35, h - 0.45, h - 0.05, 0.0,
         pole_m)


def _tree(S, cam, rng, x, z, crown_scale=1.0):
    """Trunk + crown of overlapping discs (all vegetation)."""
    trunk = S.material('trunk', VEG)
    crown = S.material('vegetation', VEG)
    crown2 = S.derive(crown, scale=_u(rng, (0.82, 0.95)))
    th = _u(rng, (2.0, 3.4))
    _box(S, cam, x, z, 0.35, 0.35, 0.0, th + 0.6, 0.0, trunk)
    bb = _Billboard(cam, x, z)
    if not bb.ok:
        return
    r = _u(rng, (1.6, 3.0)) * crown_scale
    cy = th + r * 0.85
    n = int(rng.integers(4, 9))
    for i in range(n):
        a = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(0, 0.6) * r
        rr = r * rng.uniform(0.45, 0.75)
        S.circle(bb.pt(d * math.cos(a), cy + d * math.sin(a) * 0.8),
                 rr * bb.s, crown if i % 2 == 0 else crown2)


def _person(S, cam, rng, x, z, h, view, facing=1, cls=PERSON, inst=None):
    """A pedestrian billboard. view: 'fb' (front/back) or 'side'."""
    bb = _Billboard(cam, x, z)
    if not bb.ok:
        return
    inst = S.new_instance() if inst is None else inst
    shirt = S.material('shirt', cls, inst)
    pants = S.material('pants', cls, inst)
    skin = S.material('skin', cls, inst)
    hair = S.material('hair', cls, inst)
    s = bb.s
    hip = 0.50 * h
    if view == 'fb':
        lw = 0.15
        for sx in (-1, 1):
            dx = rng.uniform(-0.03, 0.03)
            S.poly(bb.pts([(sx * 0.03 + dx, 0), (sx * (0.03 + lw) + dx, 0),
                           (sx * (0.03 + lw), hip), (sx * 0.02, hip)]), pants)
        S.poly(bb.pts([(-0.21, hip - 0.04), (0.21, hip - 0.04),
                       (0.25, 0.81 * h), (-0.25, 0.81 * h)]), shirt)
        for sx in (-1, 1):
            S.poly(bb.pts([(sx * 0.22, 0.79 * h), (sx * 0.32, 0.79 * h),
                           (sx * 0.32, 0.47 * h), (sx * 0.23, 0.47 * h)]),
                   shirt)
            S.circle(bb.pt(sx * 0.275, 0.46 * h), 0.05 * s, skin)
        S.segment(bb.pt(0, 0.80 * h), bb.pt(0, 0.86 * h), 0.09 * s, skin)
        S.circle(bb.pt(0, 0.905 * h), 0.068 * h * s, skin)
        if facing < 0:  # seen from the back: hair covers the head
            S.circle(bb.pt(0, 0.91 * h), 0.066 * h * s, hair)
        else:
            S.poly(bb.pts([(-0.068 * h, 0.93 * h), (0.068 * h, 0.93 * h),
                           (0.05 * h, 0.975 * h), (-0.05 * h, 0.975 * h)]),
                   hair)
    else:
        d = facing
        stride = rng.uniform(0.05, 0.35)
        for sx in (-1, 1):
            S.segment(bb.pt(0, hip), bb.pt(sx * stride, 0.02), 0.16 * s,
                      pants)
            S.segment(bb.pt(sx * stride, 0.02),
                      bb.pt(sx * stride + d * 0.14, 0.02), 0.07 * s, pants)
        S.poly(bb.pts([(-0.15, hip - 0.04), (0.15, hip - 0.04),
                       (0.13, 0.81 * h), (-0.14, 0.81 * h)]), shirt)
        sw = rng.uniform(-0.25, 0.25)
        S.segment(bb.pt(0, 0.78 * h), bb.pt(sw, 0.47 * h), 0.09 * s, shirt)
        S.segment(bb.pt(0, 0.80 * h), bb.pt(0.02 * d, 0.86 * h), 0.09 * s,
                  skin)
        S.circle(bb.pt(0.02 * d, 0.905 * h), 0.068 * h * s, skin)
        S.circle(bb.pt(-0.01 * d, 0.92 * h), 0.058 * h * s, hair)


def _bicycle_side(S, cam, bb, d, frame_m, tyre_m, scale=1.0):
    s = bb.s * scale
    r = 0.34
    rear, front = (-0.52 * d, r), (0.52 * d, r)
    t = max(1, int(round(0.11 * s)))
    spokes = S.material('spokes', S.cls[frame_m], S.inst[frame_m])
    for hub in (rear, front):  # wheels annotated as filled discs
        S.circle(bb.pt(*hub), r * s, spokes)
        S.circle(bb.pt(*hub), r * s, tyre_m, thickness=t)
    seat, bracket, handle = (-0.18 * d, 0.86), (0.0, 0.33), (0.40 * d, 0.98)
    w = 0.10 * s
    for a, b in ((rear, bracket), (rear, seat), (bracket, seat),
                 (bracket, (0.36 * d, 0.80)), (seat, (0.36 * d, 0.80)),
                 (front, handle)):
        S.segment(bb.pt(*a), bb.pt(*b), w, frame_m)
    S.segment(bb.pt(handle[0] - 0.08 * d, handle[1]),
              bb.pt(handle[0] + 0.06 * d, handle[1]), w, frame_m)


def _motorcycle_side(S, cam, bb, d, body_m, tank_m, tyre_m):
    s = bb.s
    r = 0.32
    for hub in ((-0.68 * d, r), (0.68 * d, r)):
        S.circle(bb.pt(*hub), r * s, tyre_m)
    S.poly(bb.pts([(-0.75 * d, 0.55), (-0.65 * d, 0.85), (0.1 * d, 0.95),
                   (0.55 * d, 0.95), (0.70 * d, 0.60), (0.20 * d, 0.35),
                   (-0.40 * d, 0.40)]), body_m)
    S.poly(bb.pts([(-0.05 * d, 0.92), (0.45 * d, 0.96), (0.40 * d, 1.10),
                   (0.02 * d, 1.06)]), tank_m)
    S.segment(bb.pt(0.62 * d, 0.55), bb.pt(0.50 * d, 1.20), 0.08 * s, body_m)


def _rider(S, cam, rng, x, z, view, facing, vehicle):
    """A rider on a bicycle or motorcycle (billboard)."""
    bb = _Billboard(cam, x, z)
    if not bb.ok:
        return
    s = bb.s
    rid = S.new_instance()
    shirt = S.material('shirt', RIDER, rid)
    pants = S.material('pants', RIDER, rid)
    skin = S.material('skin', RIDER, rid)
    head_m = S.material('helmet' if vehicle == 'moto' or rng.random() < 0.75
                        else 'hair', RIDER, rid)
    vid = S.new_instance()
    if vehicle == 'bike':
        frame = S.material('bike', BIKE, vid)
        tyre = S.material('tyre', BIKE, vid)
    else:
        frame = S.material('moto', MOTO, vid)
        tank = S.material('moto_tank', MOTO, vid)
        tyre = S.material('tyre', MOTO, vid)
    if view == 'side':
        d = facing
        if vehicle == 'bike':
            _bicycle_side(S, cam, bb, d, frame, tyre)
            hip, shoulder, hand = (-0.18 * d, 0.92), (0.10 * d, 1.50), \
                (0.36 * d, 0.98)
            foot = (0.05 * d, 0.22)
        else:
            _motorcycle_side(S, cam, bb, d, frame, tank, tyre)
            hip, shoulder, hand = (-0.20 * d, 1.02), (0.08 * d, 1.55), \
                (0.48 * d, 1.16)
            foot = (0.05 * d, 0.45)
        S.segment(bb.pt(*hip), bb.pt(hip[0] + 0.32 * d, 0.62), 0.15 * s, pants)
        S.segment(bb.pt(hip[0] + 0.32 * d, 0.62), bb.pt(*foot), 0.13 * s,
                  pants)
        S.poly(bb.pts([(hip[0] - 0.13 * d, hip[1]), (hip[0] + 0.13 * d,
                                                     hip[1]),
                       (shoulder[0] + 0.12 * d, shoulder[1]),
                       (shoulder[0] - 0.13 * d, shoulder[1])]), shirt)
        S.segment(bb.pt(*shoulder), bb.pt(*hand), 0.09 * s, shirt)
        S.circle(bb.pt(*hand), 0.05 * s, skin)
        hr = 0.14 if vehicle == 'moto' else 0.12
        S.circle(bb.pt(shoulder[0] + 0.06 * d, shoulder[1] + 0.17), hr * s,
                 head_m)
    else:
        if vehicle == 'bike':
            S.poly(bb.pts([(-0.03, 0.0), (0.03, 0.0), (0.03, 0.70),
                           (-0.03, 0.70)]), tyre)
            S.segment(bb.pt(-0.30, 1.0), bb.pt(0.30, 1.0), 0.05 * s, frame)
            S.poly(bb.pts([(-0.04, 0.6), (0.04, 0.6), (0.04, 0.95),
                           (-0.04, 0.95)]), frame)
            hip_y, sh_y = 0.95, 1.50
        else:
            S.poly(bb.pts([(-0.08, 0.0), (0.08, 0.0), (0.08, 0.62),
                           (-0.08, 0.62)]), tyre)
            S.poly(bb.pts([(-0.30, 0.45), (0.30, 0.45), (0.26, 0.98),
                           (-0.26, 0.98)]), frame)
            S.segment(bb.pt(-0.45, 1.15), bb.pt(0.45, 1.15), 0.05 * s, frame)
            tl = S.material('taillight', MOTO, vid)
            S.poly(bb.pts([(-0.08, 0.70), (0.08, 0.70), (0.08, 0.80),
                           (-0.08, 0.80)]), tl)
            hip_y, sh_y = 1.02, 1.55
        for sx in (-1, 1):
            S.segment(bb.pt(sx * 0.11, hip_y), bb.pt(sx * 0.17, 0.35),
                      0.13 * s, pants)
        S.poly(bb.pts([(-0.18, hip_y - 0.05), (0.18, hip_y - 0.05),
                       (0.22, sh_y), (-0.22, sh_y)]), shirt)
        for sx in (-1, 1):
            S.segment(bb.pt(sx * 0.2, sh_y - 0.05), bb.pt(sx * 0.28, 1.1),
                      0.09 * s, shirt)
        hr = 0.15 if vehicle == 'moto' else 0.12
        S.circle(bb.pt(0, sh_y + 0.16), hr * s, head_m)


def _parked_two_wheeler(S, cam, rng, x, z, vehicle):
    bb = _Billboard(cam, x, z)
    if not bb.ok:
        return
    d = 1 if rng.random() < 0.5 else -1
    vid = S.new_instance()
    if vehicle == 'bike':
        frame = S.material('bike', BIKE, vid)
        tyre = S.material('tyre', BIKE, vid)
        _bicycle_side(S, cam, bb, d, frame, tyre)
    else:
        body = S.material('moto', MOTO, vid)
        tank = S.material('moto_tank', MOTO, vid)
        tyre = S.material('tyre', MOTO, vid)
        _motorcycle_side(S, cam, bb, d, body, tank, tyre)


def _near_end_first(cam, cx, cz, l, yaw):
    """True when the local -z end of a yawed object is nearer the camera."""
    c, s = math.cos(yaw), math.sin(yaw)
    a = cam.to_cam(np.array([cx - l / 2 * s, 0, cz - l / 2 * c]))
    b = cam.to_cam(np.array([cx + l / 2 * s, 0, cz + l / 2 * c]))
    return np.linalg.norm(a) < np.linalg.norm(b)


def _wheels(S, cam, cx, cz, w, l, yaw, r, inset, m, axles=(0.8, 0.8)):
    c, s = math.cos(yaw), math.sin(yaw)
    for lzz in (-l / 2 + axles[0], l / 2 - axles[1]):
        for lxx in (-w / 2 + inset, w / 2 - inset):
            _box(S, cam, cx + lxx * c + lzz * s, cz - lxx * s + lzz * c, 0.28,
                 2 * r * 0.9, 0.0, 2 * r, yaw, m, shade=False)


def _car(S, cam, rng, g, x, z, yaw):
    inst = S.new_instance()
    paint = S.material('car', CAR, inst)
    glass = S.material('glass', CAR, inst)
    tyre = S.material('tyre', CAR, inst)
    w, h, l = _u(rng, g['car_w']), _u(rng, g['car_h']), _u(rng, g['car_l'])
    belt = h * _u(rng, (0.55, 0.62))
    _wheels(S, cam, x, z, w, l, yaw, 0.33, 0.2, tyre, (0.85, 0.85))
    near_minus = _near_end_first(cam, x, z, l, yaw)
    tail = S.material('taillight', CAR, inst)
    head = S.material('headlight', CAR, inst)
    lights = [sx * (w / 2 - 0.22) for sx in (-1, 1)]
    _box(S, cam, x, z, w, l, 0.28, belt, yaw, paint)
    # Cabin: narrower, shorter, shifted backwards; glass all round.
    cl = l * _u(rng, g['cabin'])
    off = l * _u(rng, (0.0, 0.08))
    c, s = math.cos(yaw), math.sin(yaw)
    ccx, ccz = x + off * s, z + off * c
    roof = S.derive(paint, scale=1.05)
    _box(S, cam, ccx, ccz, w * 0.88, cl, belt, h, yaw, glass,
         faces={'top': roof})
    # Lights on the end facing the camera.
    c_lz = -l / 2 - 0.02 if near_minus else l / 2 + 0.02
    m = tail if near_minus else head  # local -z = rear
    for lxx in lights:
        _box(S, cam, x + lxx * c + c_lz * s, z - lxx * s + c_lz * c, 0.30,
             0.04, belt * 0.72, belt * 0.92, yaw, m, shade=False)
    return l


def _truck(S, cam, rng, x, z, yaw):
    inst = S.new_instance()
    cargo = S.material('truck', TRUCK, inst)
    cab = S.material('car', TRUCK, inst)
    glass = S.material('glass', TRUCK, inst)
    tyre = S.material('tyre', TRUCK, inst)
    w = _u(rng, (2.4, 2.55))
    lc, lk = _u(rng, (5.5, 8.0)), _u(rng, (2.0, 2.4))
    hc, hk = _u(rng, (3.2, 3.9)), _u(rng, (2.8, 3.1))
    c, s = math.cos(yaw), math.sin(yaw)
    L = lc + lk
    _wheels(S, cam, x, z, w, L, yaw, 0.5, 0.25, tyre, (1.2, 1.0))
    # local -z = rear = cargo; +z = front = cab.
    cargo_c = (x - (L / 2 - lc / 2) * s, z - (L / 2 - lc / 2) * c)
    cab_c = (x + (L / 2 - lk / 2) * s, z + (L / 2 - lk / 2) * c)
    near_minus = _near_end_first(cam, x, z, L, yaw)
    parts = [(cargo_c, lc, 0.6, hc, cargo), (cab_c, lk, 0.6, hk, cab)]
    if near_minus:
        parts = parts[::-1]
    for (pcx, pcz), pl, y0, y1, m in parts:
        faces = None
        if m == cab:
            faces = {'front': glass}
        _box(S, cam, pcx, pcz, w, pl, y0, y1, yaw, m, faces=faces)
    return L


def _bus(S, cam, rng, x, z, yaw, kind='bus', cls=BUS, length=(10.5, 12.5)):
    inst = S.new_instance()
    body = S.material(kind, cls, inst)
    glass = S.material('glass', cls, inst)
    tyre = S.material('tyre', cls, inst)
    w = 2.55 if cls == BUS else 2.65
    h = _u(rng, (3.0, 3.3)) if cls == BUS else _u(rng, (3.4, 3.8))
    l = _u(rng, length)
    _wheels(S, cam, x, z, w, l, yaw, 0.5, 0.3, tyre, (2.2, 2.6))
    _box(S, cam, x, z, w, l, 0.35, h, yaw, body)
    band = (1.25, h - 0.55) if cls == BUS else (1.45, h - 0.8)
    _box(S, cam, x, z, w + 0.04, l + 0.04, band[0], band[1], yaw, glass,
         shade=False)
    if cls == TRAIN:  # pantograph
        _box(S, cam, x, z, 1.4, 0.12, h, h + 0.6, yaw, body, shade=False)
        _box(S, cam, x, z, 0.12, 1.8, h + 0.6, h + 0.7, yaw, body,
             shade=False)
    return l


def _clutter(S, cam, rng, x, z):
    """Unlabelled street furniture (bins, boxes, benches): void."""
    m = S.material('clutter', VOID)
    if rng.random() < 0.5:
        _box(S, cam, x, z, 0.6, 0.6, 0.0, _u(rng, (0.8, 1.2)), 0.0, m)
    else:
        _box(S, cam, x, z, _u(rng, (0.4, 0.6)), _u(rng, (1.5, 2.2)), 0.0,
             _u(rng, (0.5, 0.9)), 0.0, m)


# ---------------------------------------------------------------------------
# Scene
# ---------------------------------------------------------------------------


def _facade_windows(S, cam, rng, side, xf, za, zb, h, win_m, shop_m):
    """Window grid (and a shop-front band) on a street-facing facade."""
    polys = []
    col = _u(rng, (2.4, 3.6))
    ww = col * _u(rng, (0.35, 0.6))
    floor = _u(rng, (2.9, 3.4))
    wh = floor * _u(rng, (0.4, 0.55))
    zs = np.arange(za + col * 0.5, zb - col * 0.5, col)
    ys = np.arange(floor * 1.25, h - floor * 0.6, floor)
    if len(zs) and len(ys):
        Z, Y = np.meshgrid(zs, ys)
        Z, Y = Z.ravel(), Y.ravel()
        xw = xf - side * 0.02
        polys = np.stack([
            np.stack([np.full_like(Z, xw), Y, Z - ww / 2], -1),
            np.stack([np.full_like(Z, xw), Y + wh, Z - ww / 2], -1),
            np.stack([np.full_like(Z, xw), Y + wh, Z + ww / 2], -1),
            np.stack([np.full_like(Z, xw), Y, Z + ww / 2], -1)
        ], 1)
        _fill3d(S, cam, polys, win_m)
    if shop_m is not None and zb - za > 4:
        xw = xf - side * 0.02
        _fill3d(S, cam, np.array([[xw, 0.5, za + 1], [xw, 2.6, za + 1],
                                  [xw, 2.6, zb - 1], [xw, 0.5, zb - 1]]),
                shop_m)


def _building(S, cam, rng, side, xf, za, zb, h, depth=20.0):
    inst = 0
    m = S.material('building', BUILDING, inst)
    roof = S.material('roof', BUILDING, inst)
    xin = xf + side * depth / 2
    _box(S, cam, xin, (za + zb) / 2, depth, zb - za, 0.0, h, 0.0, m,
         faces={'top': roof, 'front': S.derive(m, scale=0.9)}, shade=False)
    win = S.material('window', BUILDING, inst)
    shop = S.material('shop', BUILDING) if rng.random() < 0.5 else None
    _facade_windows(S, cam, rng, side, xf, za, zb, h, win, shop)


def _skyline(S, cam, rng, g):
    """Far buildings and tree lines along the horizon (screen space)."""
    W, hv = S.w, cam.hv
    u = -5.0
    bm = [S.material('building', BUILDING) for _ in range(3)]
    vm = S.material('vegetation', VEG)
    while u < W + 5:
        bw = rng.uniform(0.03, 0.12) * W
        bh = rng.uniform(0.02, 0.14) * S.h
        if rng.random() < 0.25:
            S.ellipse((u + bw / 2, hv), (bw / 2, bh * 0.6), vm)
        else:
            m = bm[rng.integers(3)]
            S.poly([(u, hv - bh), (u + bw, hv - bh), (u + bw, hv + 2),
                    (u, hv + 2)], m)
        u += bw * rng.uniform(0.6, 1.1)


def _place(intervals: List[Tuple[float, float]], a: float, b: float,
           gap: float = 1.2) -> bool:
    for (c, d) in intervals:
        if a < d + gap and c < b + gap:
            return False
    intervals.append((a, b))
    return True


def _build_scene(S: _Canvas, rng, domain: str):
    g = _GEOMETRY[domain]
    W, H = S.w, S.h
    f = _u(rng, g['focal']) * W
    hv = _u(rng, g['horizon']) * H
    cam_h = _u(rng, g['cam_h'])
    yaw = rng.uniform(-1, 1) * g['yaw']
    cam = _Camera(W, H, f, cam_h, hv, yaw)
    zbot = cam.ground_depth(H)  # ground depth at the bottom row (no yaw)
    zmin = max(zbot * 0.95, 2.5)
    terrain_cls = TERRAIN if g['terrain'] else SIDEWALK
    terrain_kind = 'terrain' if g['terrain'] else 'sidewalk'
    shadows = []  # ground shadow polygons (world) for the "real" domain

    # Road layout: camera at X=0 in a lane of the right-hand traffic side.
    R = _u(rng, g['road_half'])
    nl = max(2, int(round(2 * R / 3.3)))
    lw = 2 * R / nl
    same = [i for i in range(nl) if i >= nl // 2]
    cam_lane = same[rng.integers(len(same))]
    off = -R + lw * (cam_lane + 0.5) + rng.uniform(-0.3, 0.3) * lw
    xr0, xr1 = -R - off, R - off
    lanes = [xr0 + lw * (i + 0.5) for i in range(nl)]
    sw = (_u(rng, g['sidewalk']), _u(rng, g['sidewalk']))
    # Grass verges between kerb and sidewalk.
    verge = tuple(_u(rng, (1.5, 3.5)) if rng.random() < g['p_verge'] else 0.0
                  for _ in range(2))
    xs0, xs1 = xr0 - verge[0] - sw[0], xr1 + verge[1] + sw[1]
    ZF = 600.0
    inter = None
    if rng.random() < g['p_intersection']:
        zlo = max(zmin + 6, 12.0)
        zi = _u(rng, (zlo, max(45.0, zlo + 10.0)))
        inter = (zi, zi + _u(rng, (9.0, 15.0)), _u(rng, (2.0, 4.0)))

    # Sky, clouds, skyline, ground.
    sky = S.material('sky', SKY)
    S.poly([(-1, -1), (W + 1, -1), (W + 1, H + 1), (-1, H + 1)], sky)
    if domain != 'cityscapes' or rng.random() < 0.5:
        cloud = S.material('cloud', SKY)
        for _ in range(int(rng.integers(0, 5))):
            cx, cy = rng.uniform(0, W), rng.uniform(0, hv * 0.7)
            S.ellipse((cx, cy), (rng.uniform(0.05, 0.15) * W,
                                 rng.uniform(0.02, 0.05) * H), cloud)
    _skyline(S, cam, rng, g)
    ground = S.material(terrain_kind, terrain_cls)
    S.poly([(-1, hv + 1), (W + 1, hv + 1), (W + 1, H + 1), (-1, H + 1)],
           ground)

    # Ground plane: sidewalks, (cross street), road, lane markings.
    swm = S.material('sidewalk', SIDEWALK)
    kerb = S.material('kerb', SIDEWALK)
    _fill3d(S, cam, _ground_quad(xs0, xr0, 0.0, ZF), swm)
    _fill3d(S, cam, _ground_quad(xr1, xs1, 0.0, ZF), swm)
    for xe, d, vw in ((xr0, -1, verge[0]), (xr1, 1, verge[1])):
        if vw > 0:
            _fill3d(S, cam, _ground_quad(min(xe, xe + d * vw),
                                         max(xe, xe + d * vw), 0.0, ZF),
                    S.material('terrain', TERRAIN))
        _fill3d(S, cam, _ground_quad(xe + d * 0.25, xe, 0.0, ZF), kerb)
    road = S.material('road', ROAD)
    lane_m = S.material('lane', LANE)
    if inter:
        zi0, zi1, swc = inter
        _fill3d(S, cam, _ground_quad(-400, xs0, zi0 - swc, zi0), swm)
        _fill3d(S, cam, _ground_quad(xs1, 400, zi0 - swc, zi0), swm)
        _fill3d(S, cam, _ground_quad(-400, xs0, zi1, zi1 + swc), swm)
        _fill3d(S, cam, _ground_quad(xs1, 400, zi1, zi1 + swc), swm)
        _fill3d(S, cam, _ground_quad(-400, 400, zi0, zi1), road)
    _fill3d(S, cam, _ground_quad(xr0, xr1, 0.0, ZF), road)
    dash_l, period = _u(rng, (2.5, 4.0)), _u(rng, (8.0, 12.0))
    phase = rng.uniform(0, period)
    for i in range(1, nl):
        xl = xr0 + lw * i
        solid = i == nl // 2 and rng.random() < 0.5
        zs = [(0.0, 90.0)] if solid else [
            (z0, z0 + dash_l) for z0 in np.arange(phase, 90.0, period)]
        quads = [_ground_quad(xl - 0.08, xl + 0.08, a, b) for a, b in zs
                 if not (inter and a < inter[1] and b > inter[0])]
        if quads:
            _fill3d(S, cam, np.stack(quads), lane_m)
    if inter:  # zebra crossing before the intersection
        zc = inter[0] - 3.5
        if zc > zmin:
            xs = np.arange(xr0 + 0.4, xr1 - 0.4, 1.0)
            _fill3d(S, cam, np.stack([_ground_quad(a, a + 0.5, zc, zc + 3.0)
                                      for a in xs]), lane_m)

    # Side structures, far to near on each side.
    segments = []
    for side, edge in ((-1, xs0), (1, xs1)):
        z = 0.5
        while z < 220:
            L = _u(rng, (8.0, 30.0))
            za, zb = z, z + L
            if inter and za < inter[1] + inter[2] and zb > inter[0] - inter[2]:
                if za < inter[0] - inter[2] - 3:
                    zb = inter[0] - inter[2]
                else:
                    z = inter[1] + inter[2]
                    continue
            r = rng.random()
            p_park, p_wall, p_fence = g['p_park'], g['p_wall'], g['p_fence']
            if r < p_park:
                kind = 'park'
            elif r < p_park + p_wall:
                kind = 'wall'
            elif r < p_park + p_wall + p_fence:
                kind = 'fence'
            else:
                kind = 'building'
            segments.append((side, edge, za, zb, kind,
                             _u(rng, g['setback']), _u(rng, g['bld_h'])))
            z = zb + (rng.uniform(0, 3.0) if rng.random() < 0.3 else 0.0)
    segments.sort(key=lambda t: -t[2])
    for side, edge, za, zb, kind, setback, bh in segments:
        if kind == 'building':
            xf = edge + side * setback
            if setback > 0.3:
                _fill3d(S, cam, _ground_quad(min(edge, xf), max(edge, xf), za,
                                             zb),
                        S.material(terrain_kind, terrain_cls))
            _building(S, cam, rng, side, xf, za, zb, bh)
            shadows.append((side, xf, za, zb, bh))
        elif kind == 'park':
            _fill3d(S, cam, _ground_quad(min(edge, edge + side * 60),
                                         max(edge, edge + side * 60), za, zb),
                    S.material(terrain_kind, terrain_cls))
            _building(S, cam, rng, side, edge + side * _u(rng, (25, 45)), za,
                      zb, bh)
            for _ in range(int(rng.integers(1, 4))):
                _tree(S, cam, rng, edge + side * _u(rng, (8, 22)),
                      _u(rng, (za, zb)), 1.3)
            if rng.random() < 0.6:  # hedge along the sidewalk
                hm = S.material('vegetation', VEG)
                _box(S, cam, edge + side * 0.6, (za + zb) / 2, 1.0, zb - za,
                     0.0, _u(rng, (0.8, 1.6)), 0.0, hm)
        else:  # wall or fence at the sidewalk edge, a building behind
            xf = edge + side * _u(rng, (4.0, 12.0))
            _fill3d(S, cam, _ground_quad(min(edge, xf), max(edge, xf), za,
                                         zb),
                    S.material(terrain_kind, terrain_cls))
            _building(S, cam, rng, side, xf, za, zb, bh)
            if kind == 'wall':
                m = S.material('wall', WALL)
                _box(S, cam, edge + side * 0.2, (za + zb) / 2, 0.4, zb - za,
                     0.0, _u(rng, (1.2, 3.0)), 0.0, m)
            else:
                m = S.material('fence', FENCE)
                fh = _u(rng, (1.1, 2.0))
                _box(S, cam, edge + side * 0.1, (za + zb) / 2, 0.15, zb - za,
                     0.0, fh, 0.0, m)
                post = S.derive(m, scale=0.8)
                for zp in np.arange(za + 0.5, zb, _u(rng, (2.0, 3.5))):
                    _box(S, cam, edge + side * 0.1, zp, 0.2, 0.2, 0.0,
                         fh + 0.15, 0.0, post, shade=False)

    # Street objects, collected then drawn far to near.
    objs = []  # (depth, draw callable)

    def add(x, z, fn):
        depth = cam.to_cam(np.array([x, 0.0, z]))[2]
        if depth > 0.8:
            objs.append((depth, fn))

    zmax = g['zmax']

    def zsample(lo=None, hi=zmax):
        lo = zmin if lo is None else lo
        hi = max(hi, lo * 1.5)  # high cameras (SYNTHIA) see the ground far
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    # Poles along the kerbs.
    n_poles = int(rng.integers(g['n_poles'][0], g['n_poles'][1] + 1))
    pole_zs = {-1: [], 1: []}
    for _ in range(n_poles):
        side = -1 if rng.random() < 0.5 else 1
        xe = (xr0 - 0.5) if side < 0 else (xr1 + 0.5)
        z = zsample(max(zmin, 3.0), 60.0)
        if not _place(pole_zs[side], z, z + 0.5, 4.0):
            continue
        r = rng.random()
        if r < 0.38:
            add(xe, z, lambda xe=xe, z=z: _sign(S, cam, rng, xe, z))
        elif r < 0.62:
            add(xe, z, lambda xe=xe, z=z, side=side: _street_lamp(
                S, cam, rng, xe, z, -side))
        else:
            add(xe, z, lambda xe=xe, z=z: _traffic_light(S, cam, rng, xe, z))
    if inter:
        z = inter[0] - 1.0
        for side, xe in ((-1, xr0 - 0.6), (1, xr1 + 0.6)):
            if z < zmin or rng.random() < 0.35:
                continue
            if rng.random() < g['p_mast']:
                add(xe, z, lambda xe=xe, z=z, side=side: _mast_light(
                    S, cam, rng, xe, z, -side))
            else:
                add(xe, z, lambda xe=xe, z=z: _traffic_light(
                    S, cam, rng, xe, z))
            if rng.random() < 0.5:
                add(xe, z - 2.5, lambda xe=xe, z=z: _sign(
                    S, cam, rng, xe, z - 2.5))

    # Trees along the sidewalks.
    for side in (-1, 1):
        if rng.random() < 0.55:
            xe = (xs0 + 0.9) if side < 0 else (xs1 - 0.9)
            zt = zmin + rng.uniform(0.0, 8.0)
            step = _u(rng, (7.0, 14.0))
            while zt < 70:
                if not (inter and inter[0] - 3 < zt < inter[1] + 3):
                    add(xe, zt, lambda xe=xe, zt=zt: _tree(S, cam, rng, xe,
                                                           zt))
                zt += step * rng.uniform(0.8, 1.3)

    # Vehicles.
    occupied = {i: [] for i in range(nl)}
    cars = []  # footprints for shadows: (x, z, w, l)
    n_cars = int(rng.integers(g['n_cars'][0], g['n_cars'][1] + 1))
    vehicles = ['car'] * n_cars
    if rng.random() < g['p_truck']:
        vehicles.append('truck')
    if rng.random() < g['p_bus']:
        vehicles.append('bus')
    if rng.random() < g['p_truck'] * 0.5:
        vehicles.append('truck')
    if rng.random() < g['p_train']:
        if inter and rng.random() < 0.5:  # a tram crossing the street
            zt = (inter[0] + inter[1]) / 2
            tl = _u(rng, (22, 32))
            add(-off, zt - 1.3, lambda zt=zt, tl=tl: _bus(
                S, cam, rng, rng.uniform(-8, 8) - off, zt, math.pi / 2,
                'train', TRAIN, (tl, tl)))
            cars.append((-off, zt, tl, 2.65))
        else:
            vehicles.append('train')
    for vtype in vehicles:
        for _attempt in range(6):
            if g['random_layout'] and vtype == 'car' and rng.random() < 0.5:
                x = rng.uniform(xr0 + 1, xr1 - 1)
                z = zsample(max(zmin, 4.0))
                yaw = rng.uniform(0, 2 * math.pi)
                lane = None
            else:
                lane = int(rng.integers(nl))
                parked = vtype == 'car' and (lane in (0, nl - 1)) and \
                    rng.random() < g['p_parked'] * 2
                x = lanes[lane]
                if parked:
                    x = (xr0 + 1.15) if lane == 0 else (xr1 - 1.15)
                else:
                    x += rng.uniform(-0.25, 0.25)
                yaw = 0.0 if lane in same else math.pi
                if parked and rng.random() < 0.3:
                    yaw = math.pi - yaw
                yaw += rng.uniform(-0.04, 0.04)
                if vtype == 'train':
                    x = lanes[nl // 2 - 1] if rng.random() < 0.5 else \
                        lanes[nl // 2]
                    lane = nl // 2 - 1 if x == lanes[nl // 2 - 1] else nl // 2
                    yaw = 0.0 if lane in same else math.pi
                lo = max(zmin, 3.5) if lane != cam_lane else max(zmin, 6.0)
                if vtype in ('bus', 'truck', 'train'):
                    lo = max(lo, 7.0)
                z = zsample(lo)
            length = {'car': 5.2, 'truck': 10.5, 'bus': 12.5,
                      'train': 30.0}[vtype]
            if lane is not None and not _place(occupied[lane], z - length / 2,
                                               z + length / 2):
                continue
            if vtype == 'car':
                add(x, z - 2.0, lambda x=x, z=z, yaw=yaw: _car(
                    S, cam, rng, g, x, z, yaw))
                cars.append((x, z, 4.6, 1.9))
            elif vtype == 'truck':
                add(x, z - 4.0, lambda x=x, z=z, yaw=yaw: _truck(
                    S, cam, rng, x, z, yaw))
                cars.append((x, z, 9.0, 2.5))
            elif vtype == 'bus':
                add(x, z - 5.0, lambda x=x, z=z, yaw=yaw: _bus(
                    S, cam, rng, x, z, yaw))
                cars.append((x, z, 12.0, 2.55))
            else:
                add(x, z - 10.0, lambda x=x, z=z, yaw=yaw: _bus(
                    S, cam, rng, x, z, yaw, 'train', TRAIN, (22.0, 30.0)))
                cars.append((x, z, 26.0, 2.65))
            break

    # Pedestrians.
    n_p = int(rng.integers(g['n_persons'][0], g['n_persons'][1] + 1))
    for _ in range(n_p):
        h = _u(rng, g['person_h'])
        r = rng.random()
        if g['random_layout'] and r < 0.35:
            x = rng.uniform(xs0 + 0.3, xs1 - 0.3)
        elif inter and r < 0.25:
            x = rng.uniform(xr0, xr1)
        else:
            side = -1 if rng.random() < 0.5 else 1
            x = rng.uniform(xs0 + 0.3, xr0 - 0.3) if side < 0 else \
                rng.uniform(xr1 + 0.3, xs1 - 0.3)
        z = zsample(max(zmin, 2.5), g['zmax_small'])
        if inter and xr0 < x < xr1 and not g['random_layout']:
            z = inter[0] - rng.uniform(0.5, 3.0)
            if z < zmin:
                continue
        view = 'side' if rng.random() < 0.45 else 'fb'
        facing = 1 if rng.random() < 0.5 else -1
        add(x, z, lambda x=x, z=z, h=h, view=view, facing=facing: _person(
            S, cam, rng, x, z, h, view, facing))
        if rng.random() < 0.12:  # a group of two
            x2 = x + rng.uniform(0.5, 0.8) * (1 if rng.random() < .5 else -1)
            add(x2, z + 0.3, lambda x=x2, z=z + 0.3, h=h * rng.uniform(
                0.85, 1.05): _person(S, cam, rng, x, z, h, 'fb', 1))

    # Riders and parked two-wheelers.
    n_r = int(rng.integers(g['n_riders'][0], g['n_riders'][1] + 1))
    for _ in range(n_r):
        vehicle = 'bike' if rng.random() < 0.55 else 'moto'
        if inter and rng.random() < 0.35:
            x = rng.uniform(xr0 - 3, xr1 + 3)
            z = (inter[0] + inter[1]) / 2 + rng.uniform(-2, 2)
            view = 'side'
        else:
            lane = 0 if rng.random() < 0.5 else nl - 1
            x = lanes[lane] + (rng.uniform(-0.3, 0.3) if vehicle == 'moto'
                               else (-1 if lane == 0 else 1) *
                               (lw / 2 - 0.7))
            z = zsample(max(zmin, 4.0), g['zmax_small'])
            if not _place(occupied[lane], z - 1.2, z + 1.2, 0.5):
                continue
            view = 'side' if rng.random() < g['p_side_rider'] else 'rear'
        facing = 1 if rng.random() < 0.5 else -1
        add(x, z, lambda x=x, z=z, view=view, facing=facing, v=vehicle:
            _rider(S, cam, rng, x, z, view, facing, v))
        cars.append((x, z, 1.8, 0.6))
    n2 = g['n_parked2']
    for _ in range(int(rng.integers(n2[0], n2[1] + 1))):
        side = -1 if rng.random() < 0.5 else 1
        x = (xs0 + 0.8) if side < 0 else (xs1 - 0.8)
        x = x if rng.random() < 0.5 else ((xr0 - 0.7) if side < 0
                                          else (xr1 + 0.7))
        z = zsample(max(zmin, 3.0), 35.0)
        v = 'bike' if rng.random() < 0.6 else 'moto'
        add(x, z, lambda x=x, z=z, v=v: _parked_two_wheeler(
            S, cam, rng, x, z, v))

    # Unlabelled clutter on the sidewalks.
    for _ in range(int(rng.integers(0, 3))):
        side = -1 if rng.random() < 0.5 else 1
        x = rng.uniform(xs0 + 0.5, xr0 - 0.5) if side < 0 else \
            rng.uniform(xr1 + 0.5, xs1 - 0.5)
        z = zsample(max(zmin, 3.0), 40.0)
        add(x, z, lambda x=x, z=z: _clutter(S, cam, rng, x, z))

    objs.sort(key=lambda t: -t[0])
    for _, fn in objs:
        fn()

    if g['ego']:  # ego-vehicle bonnet
        ego_m = S.material('ego', EGO)
        hh = rng.uniform(0.05, 0.09) * H
        S.ellipse((W / 2 + rng.uniform(-0.03, 0.03) * W, H + hh * 0.6),
                  (W * rng.uniform(0.6, 0.75), hh * 1.6), ego_m)

    return cam, dict(shadows=shadows, cars=cars, xr=(xr0, xr1), xs=(xs0, xs1))


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


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
    cam, info = _build_scene(S, rng, domain)
    img = _render(S, cam, rng, info)
    classes = np.asarray(S.cls, np.uint8)[S.mat]
    instances = np.asarray(S.inst, np.uint16)[S.mat]
    return img, classes, instances


# ---------------------------------------------------------------------------
# Benchmark writer
# ---------------------------------------------------------------------------


def mismatched_gta_indices(num: int) -> Dict[int, Tuple[int, int]]:
    """GTA5 sample numbers (1-based) whose label is smaller than the image,
    like the real release: ``{number: (d_width, d_height)}``."""
    out = {}
    if num >= 2:
        out[2] = (0, -2)
    if num >= 6:
        out[num // 2 + 1] = (-2, -2)
    return out


def _save_rgb(img: np.ndarray, path: str) -> None:
    """8-bit RGB PNG, like :func:`formats.save_image` but with OpenCV's
    fast zlib level (half the encoding time of Pillow's default on noisy
    images; the file kind is the same)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f'Failed to write {path}')


def _write_gta(root, seed, n, size, counts):
    mismatch = mismatched_gta_indices(n)
    for k in range(1, n + 1):
        img, classes, _ = render_scene('gta', seed, k - 1, size)
        ids = label_ids(classes, 'gta')
        if k in mismatch:
            dw, dh = mismatch[k]
            ids = cv2.resize(ids, (ids.shape[1] + dw, ids.shape[0] + dh),
                             interpolation=cv2.INTER_NEAREST)
        _save_rgb(img, osp.join(root, 'images', f'{k:05d}.png'))
        save_gta5_label(ids, osp.join(root, 'labels', f'{k:05d}.png'))
        counts += np.bincount(classes.ravel(), minlength=256)


def _write_synthia(root, seed, n, size, counts):
    for k in range(n):
        img, classes, inst = render_scene('synthia', seed, k, size)
        ids = label_ids(classes, 'synthia')
        _save_rgb(img, osp.join(root, 'RGB', f'{k:07d}.png'))
        save_synthia_label(
            ids, osp.join(root, 'GT', 'LABELS', f'{k:07d}.png'),
            instance_ids=inst)
        counts += np.bincount(classes.ravel(), minlength=256)


def _write_cityscapes(root, seed, n, split, cities, offset, size, counts):
    names = []
    for k in range(n):
        city = cities[k * len(cities) // n]
        seq = k - next(j for j in range(n)
                       if j * len(cities) // n == k * len(cities) // n)
        stem = f'{city}_{seq:06d}_000019'
        img, classes, _ = render_scene('cityscapes', seed, offset + k, size)
        ids = label_ids(classes, 'cityscapes')
        _save_rgb(
            img,
            osp.join(root, 'leftImg8bit', split, city,
                     f'{stem}_leftImg8bit.png'))
        save_cityscapes_label(
            ids,
            osp.join(root, 'gtFine', split, city,
                     f'{stem}_gtFine_labelIds.png'))
        counts += np.bincount(classes.ravel(), minlength=256)
        names.append(f'{split}/{city}/{stem}')
    return names


def generate_benchmark(out_dir: str,
                       seed: int = 0,
                       num_source: int = 400,
                       num_target_train: int = 400,
                       num_val: int = 100,
                       size: Tuple[int, int] = (512, 256),
                       domains: Sequence[str] = DOMAINS,
                       verbose: bool = False) -> dict:
    """Generate the synthetic benchmark under ``out_dir``.

    Layout::

        out_dir/gta/images/00001.png, gta/labels/00001.png (palette)
        out_dir/synthia/RAND_CITYSCAPES/RGB/0000000.png,
            synthia/RAND_CITYSCAPES/GT/LABELS/0000000.png (16-bit, 3 ch)
        out_dir/cityscapes/leftImg8bit/{train,val}/CITY/
            CITY_NNNNNN_000019_leftImg8bit.png
        out_dir/cityscapes/gtFine/{train,val}/CITY/
            CITY_NNNNNN_000019_gtFine_labelIds.png
        out_dir/synthetic_meta.json

    Args:
        out_dir (str): Output folder.
        seed (int): Seed; output is a deterministic function of it.
        num_source (int): Samples of each source domain (GTA, SYNTHIA).
        num_target_train (int): Cityscapes-format train samples.
        num_val (int): Cityscapes-format val samples.
        size (tuple): ``(width, height)`` of all images.
        domains (Sequence[str]): Domains to write. Defaults to all.
        verbose (bool): Print progress.

    Returns:
        dict: The metadata also written to ``synthetic_meta.json``.
    """
    for d in domains:
        if d not in _DOMAIN_CODE:
            raise ValueError(f'unknown domain {d!r}')
    if min(num_source, num_target_train, num_val) < 0:
        raise ValueError('sample counts must be >= 0')
    size = (int(size[0]), int(size[1]))
    t0 = time.time()
    counts = {d: np.zeros(256, np.int64) for d in DOMAINS}
    meta = dict(seed=int(seed), size=list(size), classes=list(CLASSES),
                domains={})
    if 'gta' in domains:
        _write_gta(osp.join(out_dir, 'gta'), seed, num_source, size,
                   counts['gta'])
        meta['domains']['gta'] = dict(
            num=num_source,
            mismatched_labels={
                f'{k:05d}': v
                for k, v in mismatched_gta_indices(num_source).items()
            })
        if verbose:
            print(f'gta: {num_source} in {time.time() - t0:.1f}s')
    if 'synthia' in domains:
        _write_synthia(
            osp.join(out_dir, 'synthia', 'RAND_CITYSCAPES'), seed, num_source,
            size, counts['synthia'])
        meta['domains']['synthia'] = dict(num=num_source)
        if verbose:
            print(f'synthia: {num_source} in {time.time() - t0:.1f}s')
    if 'cityscapes' in domains:
        root = osp.join(out_dir, 'cityscapes')
        _write_cityscapes(root, seed, num_target_train, 'train',
                          TRAIN_CITIES, 0, size, counts['cityscapes'])
        _write_cityscapes(root, seed, num_val, 'val', VAL_CITIES, 10**6,
                          size, counts['cityscapes'])
        meta['domains']['cityscapes'] = dict(
            num_train=num_target_train, num_val=num_val,
            train_cities=list(TRAIN_CITIES), val_cities=list(VAL_CITIES))
        if verbose:
            print(f'cityscapes: {num_target_train}+{num_val} in '
                  f'{time.time() - t0:.1f}s')
    for d in domains:
        c = counts[d]
        total = max(int(c.sum()), 1)
        meta['domains'][d]['class_pixel_fraction'] = {
            name: round(float(c[i]) / total, 5)
            for i, name in enumerate(CLASSES)
        }
        meta['domains'][d]['classes_drawn'] = list(DOMAIN_CLASSES[d])
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'synthetic_meta.json'), 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    meta['seconds'] = round(time.time() - t0, 2)
    return meta
