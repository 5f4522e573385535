# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Street objects: poles, signs, lights, trees, people, riders, vehicles,
buildings, clutter, each drawn through the camera onto the canvas."""
import math
from typing import List, Tuple

import numpy as np

from .camera import _Billboard, _box, _fill3d
from .classes import (BIKE, BUILDING, BUS, CAR, LIGHT, MOTO, PERSON, POLE,
                      RIDER, SIGN, TRAIN, TRUCK, VEG, VOID)


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
