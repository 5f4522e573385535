# Copyright (c) mmseg_uda contributors. All rights reserved.
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

    from mmseg_uda.benchmarks.synthetic import generate_benchmark
    generate_benchmark('data/synthetic', seed=0)

or ``python tools/make_synthetic.py --out data/synthetic``.
Modules: :mod:`.classes` (classes and label ids), :mod:`.styles` (the
domains' appearance and layout distributions, as data), :mod:`.canvas` and
:mod:`.camera` (drawing machinery), :mod:`.objects` (street objects),
:mod:`.scene` (the scene layout, as named steps), :mod:`.render` (lighting
and camera effects, :func:`render_scene`), :mod:`.formats` (writers of the
release formats) and :mod:`.writers` (:func:`generate_benchmark`).
"""
# the class indices of render_scene's class maps and the special label ids
from .classes import (BIKE, BUILDING, BUS, CAR, CITYSCAPES_EGO_ID,
                      CITYSCAPES_LABEL_IDS, CLASSES, DOMAIN_CLASSES, DOMAINS,
                      EGO, FENCE, LANE, LIGHT, MOTO, PERSON, POLE, RIDER, ROAD,
                      SIDEWALK, SIGN, SKY, SYNTHIA_LABEL_IDS,
                      SYNTHIA_LANEMARKING_ID, TERRAIN, TRAIN, TRAIN_CITIES,
                      TRUCK, VAL_CITIES, VEG, VOID, WALL, label_ids)
from .render import render_scene
from .writers import generate_benchmark, mismatched_gta_indices

__all__ = [
    'CLASSES', 'CITYSCAPES_LABEL_IDS', 'SYNTHIA_LABEL_IDS', 'DOMAINS',
    'DOMAIN_CLASSES', 'TRAIN_CITIES', 'VAL_CITIES', 'render_scene',
    'label_ids', 'generate_benchmark', 'mismatched_gta_indices',
    'CITYSCAPES_EGO_ID', 'SYNTHIA_LANEMARKING_ID', 'ROAD', 'SIDEWALK',
    'BUILDING', 'WALL', 'FENCE', 'POLE', 'LIGHT', 'SIGN', 'VEG', 'TERRAIN',
    'SKY', 'PERSON', 'RIDER', 'CAR', 'TRUCK', 'BUS', 'TRAIN', 'MOTO', 'BIKE',
    'LANE', 'EGO', 'VOID'
]
