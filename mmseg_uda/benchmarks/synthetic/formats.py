# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Writers of the UDA benchmarks' on-disk formats, and their layouts.

The files are of the same *kind* as the real releases (palette PNGs for
GTA5, 16-bit 3-channel PNGs for SYNTHIA, 8-bit grey PNGs for Cityscapes and
RobotCar), so the synthetic benchmark and the tests exercise the real
readers (:mod:`mmseg_uda.datasets.formats`).

Layouts (relative to each dataset's root):

- GTA5: ``images/NNNNN.png`` and ``labels/NNNNN.png`` (5 digits, palette
  PNG whose pixel *indices* are Cityscapes label ids).
- SYNTHIA-RAND-CITYSCAPES: ``RGB/NNNNNNN.png`` and ``GT/LABELS/NNNNNNN.png``
  (7 digits, 16-bit 3-channel PNG, class id in the first (R) channel,
  instance ids in G/B).
- Cityscapes: ``leftImg8bit/SPLIT/CITY/STEM_leftImg8bit.png`` and
  ``gtFine/SPLIT/CITY/STEM_gtFine_labelIds.png`` (8-bit label ids), or
  ``STEM_gtFine_labelTrainIds.png`` (converted 19-class train ids).
- Oxford RobotCar (``Oxford_Robot_ICCV19``): ``SPLIT/NAME.png`` images and
  ``anno/NAME.png`` (8-bit RobotCar ids, val only).
"""
import os
import os.path as osp
from typing import Optional, Tuple

import cv2
import numpy as np
from PIL import Image

# Cityscapes colours of label ids 0..33 (the palette GTA5 label PNGs carry).
CITYSCAPES_ID_COLORS = [
    (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (111, 74, 0),
    (81, 0, 81), (128, 64, 128), (244, 35, 232), (250, 170, 160),
    (230, 150, 140), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (180, 165, 180), (150, 100, 100), (150, 120, 90), (153, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35),
    (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142),
    (0, 0, 70), (0, 60, 100), (0, 0, 90), (0, 0, 110), (0, 80, 100),
    (0, 0, 230), (119, 11, 32)
]

# --------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------


def gta5_paths(root: str, index: int) -> Tuple[str, str]:
    """``(image, label)`` paths of GTA5 sample ``index`` (5-digit names)."""
    name = f'{index:05d}.png'
    return osp.join(root, 'images', name), osp.join(root, 'labels', name)


def synthia_paths(root: str, index: int) -> Tuple[str, str]:
    """``(image, label)`` paths of SYNTHIA sample ``index`` (7 digits)."""
    name = f'{index:07d}.png'
    return (osp.join(root, 'RGB', name),
            osp.join(root, 'GT', 'LABELS', name))


def cityscapes_paths(root: str,
                     split: str,
                     city: str,
                     stem: str,
                     train_ids: bool = False) -> Tuple[str, str]:
    """``(image, label)`` paths of a Cityscapes sample.

    Args:
        root (str): Cityscapes root (holding ``leftImg8bit`` and ``gtFine``).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        city (str): City folder, e.g. ``'aachen'``.
        stem (str): Frame stem, e.g. ``'aachen_000000_000019'``.
        train_ids (bool): Return the ``*_gtFine_labelTrainIds.png`` path
            instead of ``*_gtFine_labelIds.png``. Defaults to False.
    """
    kind = 'labelTrainIds' if train_ids else 'labelIds'
    return (osp.join(root, 'leftImg8bit', split, city,
                     f'{stem}_leftImg8bit.png'),
            osp.join(root, 'gtFine', split, city, f'{stem}_gtFine_{kind}.png'))


def robotcar_paths(root: str, split: str, name: str) -> Tuple[str, str]:
    """``(image, label)`` paths of an Oxford RobotCar sample.

    Args:
        root (str): The ``Oxford_Robot_ICCV19`` folder.
        split (str): ``'train'`` or ``'val'``.
        name (str): File stem without ``.png``.
    """
    return (osp.join(root, split, f'{name}.png'),
            osp.join(root, 'anno', f'{name}.png'))


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------


def _prepare(path: str) -> None:
    dirname = osp.dirname(path)
    if dirname:
        os.makedirs(dirname, exist_ok=True)


def _check_ids(ids: np.ndarray, max_value: int, what: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f'{what} must be a 2-D (H, W) array, '
                         f'got shape {ids.shape}')
    if ids.size and (ids.min() < 0 or ids.max() > max_value):
        raise ValueError(f'{what} must hold values in [0, {max_value}], '
                         f'got [{ids.min()}, {ids.max()}]')
    return ids


def save_image(img: np.ndarray, path: str) -> None:
    """Save an RGB uint8 (H, W, 3) image as an 8-bit RGB PNG.

    Args:
        img (np.ndarray): Image in RGB channel order.
        path (str): Output path; parent folders are created.
    """
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError('img must be a uint8 (H, W, 3) RGB array, got '
                         f'{img.dtype} {img.shape}')
    _prepare(path)
    Image.fromarray(np.ascontiguousarray(img)).save(path)


def save_gta5_label(ids: np.ndarray, path: str) -> None:
    """Save Cityscapes label ids as a GTA5-style palette ('P' mode) PNG.

    The pixel indices are the ids; the palette holds the Cityscapes colours,
    so a reader that converts to RGB gets colours, not ids.

    Args:
        ids (np.ndarray): (H, W) integer label ids in [0, 255].
        path (str): Output path; parent folders are created.
    """
    ids = _check_ids(ids, 255, 'GTA5 label ids')
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:len(CITYSCAPES_ID_COLORS)] = CITYSCAPES_ID_COLORS
    # Give ids without a colour a distinct, non-grey colour.
    extra = np.arange(len(CITYSCAPES_ID_COLORS), 256)
    palette[extra] = np.stack([extra, 255 - extra, (extra * 7) % 256], 1)
    img = Image.fromarray(np.ascontiguousarray(ids, dtype=np.uint8))
    img.putpalette(palette.ravel().tolist())  # 'L' -> 'P', same indices
    if img.mode != 'P':
        raise RuntimeError(f'Pillow produced mode {img.mode}, expected P')
    _prepare(path)
    img.save(path)


def save_synthia_label(ids: np.ndarray,
                       path: str,
                       instance_ids: Optional[np.ndarray] = None) -> None:
    """Save SYNTHIA class ids as a 16-bit 3-channel PNG.

    The class id goes to the first channel in RGB order (R); G and B hold
    ``instance_ids`` (junk for semantic segmentation).

    Args:
        ids (np.ndarray): (H, W) SYNTHIA class ids in [0, 65535].
        path (str): Output path; parent folders are created.
        instance_ids (np.ndarray, optional): (H, W) values for G and B.
            Defaults to a fixed non-zero pattern.
    """
    ids = _check_ids(ids, 65535, 'SYNTHIA label ids')
    if instance_ids is None:
        h, w = ids.shape
        instance_ids = (np.arange(h * w).reshape(h, w) * 37 + 1000) % 65536
    instance_ids = _check_ids(instance_ids, 65535, 'SYNTHIA instance ids')
    if instance_ids.shape != ids.shape:
        raise ValueError('instance_ids must have the shape of ids')
    bgr = np.stack([
        instance_ids.astype(np.uint16),
        (instance_ids.astype(np.uint16) ^ 0x5A5A),
        ids.astype(np.uint16)
    ], axis=-1)
    _prepare(path)
    if not cv2.imwrite(path, bgr):
        raise OSError(f'Failed to write {path}')


def save_gray_label(ids: np.ndarray, path: str) -> None:
    """Save ids as an 8-bit single-channel ('L' mode) PNG.

    This is the format of Cityscapes ``*_gtFine_labelIds.png`` (raw label
    ids), ``*_gtFine_labelTrainIds.png`` (train ids) and RobotCar ``anno``.

    Args:
        ids (np.ndarray): (H, W) integer ids in [0, 255].
        path (str): Output path; parent folders are created.
    """
    ids = _check_ids(ids, 255, 'label ids')
    _prepare(path)
    Image.fromarray(np.ascontiguousarray(ids, dtype=np.uint8)).save(path)


#: Cityscapes ``*_gtFine_labelIds.png`` / ``*_labelTrainIds.png`` writer.
save_cityscapes_label = save_gray_label
#: Oxford RobotCar ``anno/NAME.png`` writer.
save_robotcar_label = save_gray_label
#: Oxford RobotCar ``SPLIT/NAME.png`` image writer.
save_robotcar_image = save_image
