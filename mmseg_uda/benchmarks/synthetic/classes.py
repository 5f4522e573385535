# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Classes of the synthetic scenes and their label ids in each domain's
on-disk format."""
from typing import Sequence

import numpy as np

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
