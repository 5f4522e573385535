# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Appearance and layout of the domains, as data.

Each "kind" of surface has a list of candidate colours (one is drawn per
instance) and a per-instance jitter std (:data:`_PALETTES`; the target's are
derived from the sources' by :func:`_target_palette`). Textures are
multiplicative modulations: (low-frequency noise, high-frequency grain,
horizontal stripes, vertical stripes, vertical gradient). :data:`_EFFECTS`
holds the image-level effects (lighting, shadows, noise) and
:data:`_GEOMETRY` the camera and street layout distributions per domain.
"""
import colorsys

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
