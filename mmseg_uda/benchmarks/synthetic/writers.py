# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Writing the synthetic benchmark: every domain's scenes in its release's
on-disk format (see :mod:`.formats`), and ``synthetic_meta.json``."""
import json
import os
import os.path as osp
import time
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from .classes import (CLASSES, DOMAIN_CLASSES, DOMAINS, TRAIN_CITIES,
                      VAL_CITIES, _DOMAIN_CODE, label_ids)
from .formats import (save_cityscapes_label, save_gta5_label,
                      save_synthia_label)
from .render import render_scene


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
