"""Named mappings from raw dataset label ids to training ids.

Each benchmark stores labels in its own id space (GTA5 and Cityscapes use the
Cityscapes *label ids*, SYNTHIA its own ids, Oxford RobotCar its own ids). A
model is trained in a *label space* (an ordered class list: 19 Cityscapes
classes, the 16 classes of the SYNTHIA protocol, the 9 RobotCar classes).
A :class:`LabelMapping` ties the two together: raw ids listed in ``mapping``
become the given train ids, every other id inside the valid raw range becomes
the ignore index 255, and ids outside the valid range are *unknown* (they
also become 255, but loaders report them since they point at a corrupt or
mismatched label file).

Available mappings (``LABEL_MAPPINGS``):

- ``'cityscapes19'``: Cityscapes / GTA5 label ids -> 19 Cityscapes classes.
- ``'cityscapes16'``: Cityscapes label ids -> 16 classes of the SYNTHIA
  protocol (terrain, truck and train are ignored).
- ``'synthia19'``: SYNTHIA ids -> 19 Cityscapes train ids (terrain, truck
  and train never occur).
- ``'synthia16'``: SYNTHIA ids -> the 16 classes of the SYNTHIA protocol.
- ``'robotcar9'``: Oxford RobotCar ids -> 9 RobotCar classes.
- ``'cityscapes_to_robotcar9'``: Cityscapes label ids -> 9 RobotCar classes
  (Cityscapes as the source domain of Cityscapes -> RobotCar).
"""
from functools import lru_cache
from typing import Dict, NamedTuple, Tuple

import numpy as np

IGNORE_INDEX = 255

# --------------------------------------------------------------------------
# Label spaces (the classes a model predicts), in train-id order.
# --------------------------------------------------------------------------
_CS19_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                 'traffic light', 'traffic sign', 'vegetation', 'terrain',
                 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                 'motorcycle', 'bicycle')
_CS19_PALETTE = [[128, 64, 128], [244, 35, 232], [70, 70, 70],
                 [102, 102, 156], [190, 153, 153], [153, 153, 153],
                 [250, 170, 30], [220, 220, 0], [107, 142, 35],
                 [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0],
                 [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100],
                 [0, 0, 230], [119, 11, 32]]
# The SYNTHIA protocol drops terrain (9), truck (14) and train (16).
_CS16_DROPPED = (9, 14, 16)
_CS19_TO_16 = {}
for _tid in range(19):
    if _tid not in _CS16_DROPPED:
        _CS19_TO_16[_tid] = len(_CS19_TO_16)

_ROBOTCAR9_CLASSES = ('sky', 'person', 'two-wheel', 'automobile', 'sign',
                      'light', 'building', 'sidewalk', 'road')
_ROBOTCAR9_PALETTE = [[70, 130, 180], [220, 20, 60], [119, 11, 32],
                      [0, 0, 142], [220, 220, 0], [250, 170, 30],
                      [70, 70, 70], [244, 35, 232], [128, 64, 128]]

#: Label spaces by name: ``dict(classes=tuple, palette=list)``.
LABEL_SPACES: Dict[str, dict] = dict(
    cityscapes19=dict(classes=_CS19_CLASSES, palette=_CS19_PALETTE),
    cityscapes16=dict(
        classes=tuple(_CS19_CLASSES[i] for i in _CS19_TO_16),
        palette=[_CS19_PALETTE[i] for i in _CS19_TO_16]),
    robotcar9=dict(classes=_ROBOTCAR9_CLASSES, palette=_ROBOTCAR9_PALETTE),
)


class LabelMapping(NamedTuple):
    """A mapping from raw label ids of one id space to train ids.

    Args:
        name (str): Name of the mapping (key in :data:`LABEL_MAPPINGS`).
        id_space (str): Raw id space the mapping reads: ``'cityscapes'``
            (also used by GTA5), ``'synthia'`` or ``'robotcar'``.
        valid_range (tuple[int, int]): Inclusive range of raw ids that may
            legitimately occur in a label of that id space.
        mapping (dict[int, int]): Raw id -> train id. Valid ids not listed
            map to 255.
        label_space (str): Key in :data:`LABEL_SPACES` naming the classes
            the train ids index.
    """
    name: str
    id_space: str
    valid_range: Tuple[int, int]
    mapping: Dict[int, int]
    label_space: str


_CS_TO_19 = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}
_SYNTHIA_TO_19 = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 10, 10: 11,
    17: 12, 8: 13, 19: 15, 12: 17, 11: 18
}
_ROBOTCAR_TO_9 = {
    1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 10: 7, 11: 8, 12: 8, 13: 8,
    14: 8, 17: 8
}
_CS_TO_ROBOTCAR9 = {
    23: 0, 24: 1, 25: 1, 32: 2, 33: 2, 26: 3, 27: 3, 28: 3, 20: 4, 19: 5,
    11: 6, 8: 7, 7: 8
}


def _to_16(mapping19: Dict[int, int]) -> Dict[int, int]:
    """Compose a raw -> 19 mapping with the 19 -> 16 class reduction."""
    return {
        raw: _CS19_TO_16[tid]
        for raw, tid in mapping19.items() if tid in _CS19_TO_16
    }


# Valid raw id ranges. Cityscapes defines ids -1..33 (-1 = license plate,
# never written to the 8-bit PNGs); SYNTHIA 0..22; RobotCar 0..18.
_CS_RANGE = (-1, 33)
_SYNTHIA_RANGE = (0, 22)
_ROBOTCAR_RANGE = (0, 18)

#: All named mappings.
LABEL_MAPPINGS: Dict[str, LabelMapping] = {
    m.name: m
    for m in (
        LabelMapping('cityscapes19', 'cityscapes', _CS_RANGE, _CS_TO_19,
                     'cityscapes19'),
        LabelMapping('cityscapes16', 'cityscapes', _CS_RANGE,
                     _to_16(_CS_TO_19), 'cityscapes16'),
        LabelMapping('synthia19', 'synthia', _SYNTHIA_RANGE, _SYNTHIA_TO_19,
                     'cityscapes19'),
        LabelMapping('synthia16', 'synthia', _SYNTHIA_RANGE,
                     _to_16(_SYNTHIA_TO_19), 'cityscapes16'),
        LabelMapping('robotcar9', 'robotcar', _ROBOTCAR_RANGE,
                     _ROBOTCAR_TO_9, 'robotcar9'),
        LabelMapping('cityscapes_to_robotcar9', 'cityscapes', _CS_RANGE,
                     _CS_TO_ROBOTCAR9, 'robotcar9'),
    )
}


def get_label_mapping(name: str) -> LabelMapping:
    """Look up a named label mapping.

    Args:
        name (str): One of the keys of :data:`LABEL_MAPPINGS`.

    Returns:
        LabelMapping: The mapping.
    """
    if name not in LABEL_MAPPINGS:
        raise KeyError(f'Unknown label mapping {name!r}; available: '
                       f'{sorted(LABEL_MAPPINGS)}')
    return LABEL_MAPPINGS[name]


def get_label_space(name: str) -> dict:
    """Return a copy of ``dict(classes=..., palette=...)`` of a label space.

    Args:
        name (str): One of the keys of :data:`LABEL_SPACES`.
    """
    if name not in LABEL_SPACES:
        raise KeyError(f'Unknown label space {name!r}; available: '
                       f'{sorted(LABEL_SPACES)}')
    space = LABEL_SPACES[name]
    return dict(
        classes=tuple(space['classes']),
        palette=[list(c) for c in space['palette']])


@lru_cache(maxsize=None)
def build_lut(name: str) -> np.ndarray:
    """Build (once, then cached) the lookup table of a named mapping.

    The table has ``hi - lo + 2`` uint8 entries for ``valid_range=(lo, hi)``:
    entry ``i`` holds the train id of raw id ``lo + i``; the last entry is
    the slot used for unknown ids (ids outside the valid range) and holds
    255. The returned array is read-only since it is shared.

    Args:
        name (str): Name of the mapping.

    Returns:
        np.ndarray: The lookup table.
    """
    spec = get_label_mapping(name)
    lo, hi = spec.valid_range
    lut = np.full(hi - lo + 2, IGNORE_INDEX, dtype=np.uint8)
    for raw_id, train_id in spec.mapping.items():
        lut[raw_id - lo] = train_id
    lut.setflags(write=False)
    return lut


def apply_label_mapping(label: np.ndarray,
                        name: str) -> Tuple[np.ndarray, int, np.ndarray]:
    """Map a raw label array to train ids.

    Args:
        label (np.ndarray): Integer array of raw ids (any shape).
        name (str): Name of the mapping.

    Returns:
        tuple: ``(mapped, num_unknown, unknown_ids)``: the uint8 train-id
        array of the same shape, the number of pixels whose id was outside
        the valid range (they are set to 255), and the sorted unique unknown
        ids.
    """
    if not np.issubdtype(label.dtype, np.integer):
        raise TypeError(f'label must be an integer array, got {label.dtype}')
    spec = get_label_mapping(name)
    lo, hi = spec.valid_range
    lut = build_lut(name)
    unknown_slot = hi - lo + 1
    idx = label.astype(np.int64) - lo
    unknown = (idx < 0) | (idx > hi - lo)
    num_unknown = int(np.count_nonzero(unknown))
    unknown_ids = np.unique(label[unknown]) if num_unknown else np.zeros(
        0, dtype=label.dtype)
    if num_unknown:
        idx[unknown] = unknown_slot
    return lut[idx], num_unknown, unknown_ids

