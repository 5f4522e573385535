# Copyright (c) mmseg_uda contributors. All rights reserved.
"""The layout of one street scene, as named steps.

:func:`build_scene` draws a scene onto a canvas in a fixed order: camera,
street layout (road, lanes, sidewalks, verges, an optional intersection),
background (sky, clouds, skyline, ground), ground markings, the structures
along the street, then the street objects (poles, trees, vehicles,
pedestrians, riders, clutter) far to near, and the ego vehicle's bonnet.
Every step draws its random numbers from the one scene generator in this
order, so the scene is a pure function of the generator's seed.
"""
import math
from types import SimpleNamespace
from typing import Callable, List, Tuple

import numpy as np

from .camera import _box, _Camera, _fill3d, _ground_quad
from .canvas import _Canvas
from .classes import (EGO, FENCE, LANE, ROAD, SIDEWALK, SKY, TERRAIN, TRAIN,
                      VEG, WALL)
from .objects import (_building, _bus, _car, _clutter, _mast_light,
                      _parked_two_wheeler, _person, _place, _rider, _sign,
                      _skyline, _street_lamp, _traffic_light, _tree, _truck,
                      _u)
from .styles import _GEOMETRY

#: Far end (m) of the street's ground quads.
_FAR = 600.0


def _camera(S: _Canvas, rng, g: dict) -> _Camera:
    """Focal length, horizon row, height and yaw of the camera."""
    W, H = S.w, S.h
    f = _u(rng, g['focal']) * W
    hv = _u(rng, g['horizon']) * H
    cam_h = _u(rng, g['cam_h'])
    yaw = rng.uniform(-1, 1) * g['yaw']
    return _Camera(W, H, f, cam_h, hv, yaw)


def _street_layout(S: _Canvas, rng, g: dict,
                   cam: _Camera) -> SimpleNamespace:
    """Road, lanes, verges, sidewalks and an optional intersection; the
    camera sits in a lane of the right-hand traffic side at X = 0."""
    zbot = cam.ground_depth(S.h)  # ground depth at the bottom row (no yaw)
    zmin = max(zbot * 0.95, 2.5)
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
    inter = None
    if rng.random() < g['p_intersection']:
        zlo = max(zmin + 6, 12.0)
        zi = _u(rng, (zlo, max(45.0, zlo + 10.0)))
        inter = (zi, zi + _u(rng, (9.0, 15.0)), _u(rng, (2.0, 4.0)))
    return SimpleNamespace(
        zmin=zmin, nl=nl, lw=lw, same=same, cam_lane=cam_lane, off=off,
        xr0=xr0, xr1=xr1, lanes=lanes, verge=verge, xs0=xs0, xs1=xs1,
        inter=inter,
        terrain_cls=TERRAIN if g['terrain'] else SIDEWALK,
        terrain_kind='terrain' if g['terrain'] else 'sidewalk')


def _background(S: _Canvas, cam: _Camera, rng, g: dict, domain: str,
                lay: SimpleNamespace) -> None:
    """Sky, clouds, skyline and the ground below the horizon."""
    W, H, hv = S.w, S.h, cam.hv
    sky = S.material('sky', SKY)
    S.poly([(-1, -1), (W + 1, -1), (W + 1, H + 1), (-1, H + 1)], sky)
    if domain != 'cityscapes' or rng.random() < 0.5:
        cloud = S.material('cloud', SKY)
        for _ in range(int(rng.integers(0, 5))):
            cx, cy = rng.uniform(0, W), rng.uniform(0, hv * 0.7)
            S.ellipse((cx, cy), (rng.uniform(0.05, 0.15) * W,
                                 rng.uniform(0.02, 0.05) * H), cloud)
    _skyline(S, cam, rng, g)
    ground = S.material(lay.terrain_kind, lay.terrain_cls)
    S.poly([(-1, hv + 1), (W + 1, hv + 1), (W + 1, H + 1), (-1, H + 1)],
           ground)


def _ground(S: _Canvas, cam: _Camera, rng, lay: SimpleNamespace) -> None:
    """Sidewalks, verges, kerbs, the (cross) street, lane markings and a
    zebra crossing before the intersection."""
    xr0, xr1, xs0, xs1, inter = lay.xr0, lay.xr1, lay.xs0, lay.xs1, lay.inter
    swm = S.material('sidewalk', SIDEWALK)
    kerb = S.material('kerb', SIDEWALK)
    _fill3d(S, cam, _ground_quad(xs0, xr0, 0.0, _FAR), swm)
    _fill3d(S, cam, _ground_quad(xr1, xs1, 0.0, _FAR), swm)
    for xe, d, vw in ((xr0, -1, lay.verge[0]), (xr1, 1, lay.verge[1])):
        if vw > 0:
            _fill3d(S, cam, _ground_quad(min(xe, xe + d * vw),
                                         max(xe, xe + d * vw), 0.0, _FAR),
                    S.material('terrain', TERRAIN))
        _fill3d(S, cam, _ground_quad(xe + d * 0.25, xe, 0.0, _FAR), kerb)
    road = S.material('road', ROAD)
    lane_m = S.material('lane', LANE)
    if inter:
        zi0, zi1, swc = inter
        _fill3d(S, cam, _ground_quad(-400, xs0, zi0 - swc, zi0), swm)
        _fill3d(S, cam, _ground_quad(xs1, 400, zi0 - swc, zi0), swm)
        _fill3d(S, cam, _ground_quad(-400, xs0, zi1, zi1 + swc), swm)
        _fill3d(S, cam, _ground_quad(xs1, 400, zi1, zi1 + swc), swm)
        _fill3d(S, cam, _ground_quad(-400, 400, zi0, zi1), road)
    _fill3d(S, cam, _ground_quad(xr0, xr1, 0.0, _FAR), road)
    dash_l, period = _u(rng, (2.5, 4.0)), _u(rng, (8.0, 12.0))
    phase = rng.uniform(0, period)
    for i in range(1, lay.nl):
        xl = xr0 + lay.lw * i
        solid = i == lay.nl // 2 and rng.random() < 0.5
        zs = [(0.0, 90.0)] if solid else [
            (z0, z0 + dash_l) for z0 in np.arange(phase, 90.0, period)]
        quads = [_ground_quad(xl - 0.08, xl + 0.08, a, b) for a, b in zs
                 if not (inter and a < inter[1] and b > inter[0])]
        if quads:
            _fill3d(S, cam, np.stack(quads), lane_m)
    if inter:  # zebra crossing before the intersection
        zc = inter[0] - 3.5
        if zc > lay.zmin:
            xs = np.arange(xr0 + 0.4, xr1 - 0.4, 1.0)
            _fill3d(S, cam, np.stack([_ground_quad(a, a + 0.5, zc, zc + 3.0)
                                      for a in xs]), lane_m)


def _street_segments(rng, g: dict, lay: SimpleNamespace) -> List[tuple]:
    """What stands along each side of the street, segment by segment:
    ``(side, edge, z_start, z_end, kind, setback, height)`` with kind
    building, park, wall or fence; sorted far to near."""
    inter = lay.inter
    segments = []
    for side, edge in ((-1, lay.xs0), (1, lay.xs1)):
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
    return segments


def _side_structures(S: _Canvas, cam: _Camera, rng, g: dict,
                     lay: SimpleNamespace) -> List[tuple]:
    """Buildings, parks, walls and fences along the street, far to near.
    Returns the buildings' shadow footprints ``(side, x, za, zb, h)``."""
    shadows = []
    terrain = (lay.terrain_kind, lay.terrain_cls)
    for side, edge, za, zb, kind, setback, bh in _street_segments(
            rng, g, lay):
        if kind == 'building':
            xf = edge + side * setback
            if setback > 0.3:
                _fill3d(S, cam, _ground_quad(min(edge, xf), max(edge, xf), za,
                                             zb),
                        S.material(*terrain))
            _building(S, cam, rng, side, xf, za, zb, bh)
            shadows.append((side, xf, za, zb, bh))
        elif kind == 'park':
            _fill3d(S, cam, _ground_quad(min(edge, edge + side * 60),
                                         max(edge, edge + side * 60), za, zb),
                    S.material(*terrain))
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
                    S.material(*terrain))
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
    return shadows


class _StreetObjects:
    """Street objects collected with their camera depth, drawn far to near
    (:meth:`draw`); :meth:`zsample` draws depths log-uniformly."""

    def __init__(self, cam: _Camera, rng, zmin: float, zmax: float) -> None:
        self.cam, self.rng = cam, rng
        self.zmin, self.zmax = zmin, zmax
        self.items: List[Tuple[float, Callable[[], None]]] = []

    def add(self, x: float, z: float, fn: Callable[[], None]) -> None:
        depth = self.cam.to_cam(np.array([x, 0.0, z]))[2]
        if depth > 0.8:
            self.items.append((depth, fn))

    def zsample(self, lo=None, hi=None) -> float:
        lo = self.zmin if lo is None else lo
        hi = self.zmax if hi is None else hi
        hi = max(hi, lo * 1.5)  # high cameras (SYNTHIA) see the ground far
        return float(
            math.exp(self.rng.uniform(math.log(lo), math.log(hi))))

    def draw(self) -> None:
        self.items.sort(key=lambda t: -t[0])
        for _, fn in self.items:
            fn()


def _poles(S, cam, rng, g, lay, objs: _StreetObjects) -> None:
    """Signs, street lamps and traffic lights along the kerbs, and lights
    (and signs) at the intersection."""
    xr0, xr1, zmin, inter = lay.xr0, lay.xr1, lay.zmin, lay.inter
    add = objs.add
    n_poles = int(rng.integers(g['n_poles'][0], g['n_poles'][1] + 1))
    pole_zs = {-1: [], 1: []}
    for _ in range(n_poles):
        side = -1 if rng.random() < 0.5 else 1
        xe = (xr0 - 0.5) if side < 0 else (xr1 + 0.5)
        z = objs.zsample(max(zmin, 3.0), 60.0)
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


def _street_trees(S, cam, rng, lay, objs: _StreetObjects) -> None:
    """Rows of trees along the sidewalks (not on the intersection)."""
    inter = lay.inter
    for side in (-1, 1):
        if rng.random() < 0.55:
            xe = (lay.xs0 + 0.9) if side < 0 else (lay.xs1 - 0.9)
            zt = lay.zmin + rng.uniform(0.0, 8.0)
            step = _u(rng, (7.0, 14.0))
            while zt < 70:
                if not (inter and inter[0] - 3 < zt < inter[1] + 3):
                    objs.add(xe, zt, lambda xe=xe, zt=zt: _tree(
                        S, cam, rng, xe, zt))
                zt += step * rng.uniform(0.8, 1.3)


def _vehicle_types(S, cam, rng, g, lay, objs: _StreetObjects,
                   cars: list) -> list:
    """The vehicles to place: cars, maybe trucks, a bus, a train (a tram
    crossing the intersection is placed right away)."""
    inter, off = lay.inter, lay.off
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
            objs.add(-off, zt - 1.3, lambda zt=zt, tl=tl: _bus(
                S, cam, rng, rng.uniform(-8, 8) - off, zt, math.pi / 2,
                'train', TRAIN, (tl, tl)))
            cars.append((-off, zt, tl, 2.65))
        else:
            vehicles.append('train')
    return vehicles


def _vehicles(S, cam, rng, g, lay, objs: _StreetObjects, occupied: dict,
              cars: list) -> None:
    """Cars (driving or parked), trucks, buses and trains in free lane
    slots; their footprints go to ``cars`` (for shadows)."""
    nl, lanes, same, zmin = lay.nl, lay.lanes, lay.same, lay.zmin
    xr0, xr1 = lay.xr0, lay.xr1
    add = objs.add
    for vtype in _vehicle_types(S, cam, rng, g, lay, objs, cars):
        for _attempt in range(6):
            if g['random_layout'] and vtype == 'car' and rng.random() < 0.5:
                x = rng.uniform(xr0 + 1, xr1 - 1)
                z = objs.zsample(max(zmin, 4.0))
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
                lo = max(zmin, 3.5) if lane != lay.cam_lane else \
                    max(zmin, 6.0)
                if vtype in ('bus', 'truck', 'train'):
                    lo = max(lo, 7.0)
                z = objs.zsample(lo)
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


def _pedestrians(S, cam, rng, g, lay, objs: _StreetObjects) -> None:
    """People on the sidewalks (or crossing before the intersection), some
    in pairs."""
    xr0, xr1, xs0, xs1, inter = lay.xr0, lay.xr1, lay.xs0, lay.xs1, lay.inter
    add = objs.add
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
        z = objs.zsample(max(lay.zmin, 2.5), g['zmax_small'])
        if inter and xr0 < x < xr1 and not g['random_layout']:
            z = inter[0] - rng.uniform(0.5, 3.0)
            if z < lay.zmin:
                continue
        view = 'side' if rng.random() < 0.45 else 'fb'
        facing = 1 if rng.random() < 0.5 else -1
        add(x, z, lambda x=x, z=z, h=h, view=view, facing=facing: _person(
            S, cam, rng, x, z, h, view, facing))
        if rng.random() < 0.12:  # a group of two
            x2 = x + rng.uniform(0.5, 0.8) * (1 if rng.random() < .5 else -1)
            add(x2, z + 0.3, lambda x=x2, z=z + 0.3, h=h * rng.uniform(
                0.85, 1.05): _person(S, cam, rng, x, z, h, 'fb', 1))


def _two_wheelers(S, cam, rng, g, lay, objs: _StreetObjects, occupied: dict,
                  cars: list) -> None:
    """Riders on bicycles and motorcycles in the outer lanes (or crossing
    the intersection), and parked two-wheelers on the sidewalks."""
    nl, lanes, inter = lay.nl, lay.lanes, lay.inter
    xr0, xr1, xs0, xs1 = lay.xr0, lay.xr1, lay.xs0, lay.xs1
    add = objs.add
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
                               (lay.lw / 2 - 0.7))
            z = objs.zsample(max(lay.zmin, 4.0), g['zmax_small'])
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
        z = objs.zsample(max(lay.zmin, 3.0), 35.0)
        v = 'bike' if rng.random() < 0.6 else 'moto'
        add(x, z, lambda x=x, z=z, v=v: _parked_two_wheeler(
            S, cam, rng, x, z, v))


def _sidewalk_clutter(S, cam, rng, lay, objs: _StreetObjects) -> None:
    """Unlabelled (void) clutter on the sidewalks."""
    for _ in range(int(rng.integers(0, 3))):
        side = -1 if rng.random() < 0.5 else 1
        x = rng.uniform(lay.xs0 + 0.5, lay.xr0 - 0.5) if side < 0 else \
            rng.uniform(lay.xr1 + 0.5, lay.xs1 - 0.5)
        z = objs.zsample(max(lay.zmin, 3.0), 40.0)
        objs.add(x, z, lambda x=x, z=z: _clutter(S, cam, rng, x, z))


def _ego_bonnet(S: _Canvas, rng) -> None:
    """The ego vehicle's bonnet at the bottom of the image (target)."""
    W, H = S.w, S.h
    ego_m = S.material('ego', EGO)
    hh = rng.uniform(0.05, 0.09) * H
    S.ellipse((W / 2 + rng.uniform(-0.03, 0.03) * W, H + hh * 0.6),
              (W * rng.uniform(0.6, 0.75), hh * 1.6), ego_m)


def build_scene(S: _Canvas, rng, domain: str):
    """Draw one scene of ``domain`` onto ``S`` (see the module doc).

    Args:
        S (_Canvas): The canvas (material map) to draw on.
        rng (np.random.Generator): The scene's generator.
        domain (str): ``'gta'``, ``'synthia'`` or ``'cityscapes'``.

    Returns:
        tuple: ``(camera, info)`` with ``info`` the shadow casters for the
        renderer: ``shadows`` (buildings), ``cars`` (vehicle and rider
        footprints), ``xr`` (road edges) and ``xs`` (sidewalk edges).
    """
    g = _GEOMETRY[domain]
    cam = _camera(S, rng, g)
    lay = _street_layout(S, rng, g, cam)
    _background(S, cam, rng, g, domain, lay)
    _ground(S, cam, rng, lay)
    shadows = _side_structures(S, cam, rng, g, lay)

    objs = _StreetObjects(cam, rng, lay.zmin, g['zmax'])
    occupied = {i: [] for i in range(lay.nl)}
    cars = []  # footprints for shadows: (x, z, w, l)
    _poles(S, cam, rng, g, lay, objs)
    _street_trees(S, cam, rng, lay, objs)
    _vehicles(S, cam, rng, g, lay, objs, occupied, cars)
    _pedestrians(S, cam, rng, g, lay, objs)
    _two_wheelers(S, cam, rng, g, lay, objs, occupied, cars)
    _sidewalk_clutter(S, cam, rng, lay, objs)
    objs.draw()
    if g['ego']:
        _ego_bonnet(S, rng)
    return cam, dict(shadows=shadows, cars=cars, xr=(lay.xr0, lay.xr1),
                     xs=(lay.xs0, lay.xs1))
