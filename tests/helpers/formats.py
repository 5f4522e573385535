"""Write tiny dataset trees in the real on-disk formats, for tests.

The file writers live in :mod:`mmseg_uda.benchmarks.synthetic.formats`;
this helper arranges them into the release layouts of GTA5, SYNTHIA, Cityscapes and
Oxford RobotCar under a temporary root, and returns what was written so that
tests can compute their own expectations.
"""
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from mmseg_uda.benchmarks.synthetic import formats


class Sample(NamedTuple):
    """A written sample: file paths and the raw ids stored in the label."""
    img_path: str
    label_path: Optional[str]
    raw_ids: Optional[np.ndarray]
    image: np.ndarray  # RGB


def random_image(shape: Tuple[int, int], seed: int = 0) -> np.ndarray:
    """A random RGB uint8 image of ``shape`` (H, W)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def random_ids(shape: Tuple[int, int],
               values: Sequence[int],
               seed: int = 0,
               dtype=np.uint8) -> np.ndarray:
    """A (H, W) array whose values are drawn from ``values``, each value
    appearing at least once when the array is large enough."""
    rng = np.random.default_rng(seed)
    values = np.asarray(values)
    flat = rng.choice(values, size=shape[0] * shape[1])
    n = min(len(values), flat.size)
    flat[:n] = values[:n]
    rng.shuffle(flat)
    return flat.reshape(shape).astype(dtype)


def make_gta5(root: str,
              labels: Sequence[np.ndarray],
              image_shapes: Optional[Sequence[Tuple[int, int]]] = None,
              start: int = 1) -> List[Sample]:
    """GTA5 tree: ``images/NNNNN.png`` + palette ``labels/NNNNN.png``.

    Args:
        root (str): Dataset root.
        labels (list[np.ndarray]): Raw Cityscapes label ids per sample.
        image_shapes (list[tuple], optional): Image (H, W) per sample;
            defaults to the label shape (set another one to write a pair
            whose sizes differ).
        start (int): Index of the first sample.
    """
    samples = []
    for k, ids in enumerate(labels):
        img_path, lbl_path = formats.gta5_paths(root, start + k)
        shape = image_shapes[k] if image_shapes else ids.shape
        img = random_image(shape, seed=k)
        formats.save_image(img, img_path)
        formats.save_gta5_label(ids, lbl_path)
        samples.append(Sample(img_path, lbl_path, ids, img))
    return samples


def make_synthia(root: str,
                 labels: Sequence[np.ndarray],
                 start: int = 0) -> List[Sample]:
    """SYNTHIA tree: ``RGB/NNNNNNN.png`` + 16-bit ``GT/LABELS/NNNNNNN.png``
    with the ids in R and junk instance ids in G/B."""
    samples = []
    for k, ids in enumerate(labels):
        img_path, lbl_path = formats.synthia_paths(root, start + k)
        img = random_image(ids.shape, seed=100 + k)
        formats.save_image(img, img_path)
        junk = random_ids(ids.shape, range(1, 60000), seed=200 + k,
                          dtype=np.uint16)
        formats.save_synthia_label(ids, lbl_path, instance_ids=junk)
        samples.append(Sample(img_path, lbl_path, ids, img))
    return samples


def make_cityscapes(root: str,
                    split: str,
                    labels: Dict[str, np.ndarray],
                    train_ids: bool = False,
                    write_labels: bool = True) -> List[Sample]:
    """Cityscapes tree under ``leftImg8bit/SPLIT`` and ``gtFine/SPLIT``.

    Args:
        root (str): Dataset root.
        split (str): Split folder.
        labels (dict): ``'city/stem'`` -> ids (raw label ids, or train ids
            when ``train_ids``).
        train_ids (bool): Write ``*_gtFine_labelTrainIds.png`` files.
        write_labels (bool): Whether to write label files at all.
    """
    samples = []
    for k, (key, ids) in enumerate(sorted(labels.items())):
        city, stem = key.split('/')
        img_path, lbl_path = formats.cityscapes_paths(
            root, split, city, stem, train_ids=train_ids)
        img = random_image(ids.shape, seed=300 + k)
        formats.save_image(img, img_path)
        if write_labels:
            formats.save_cityscapes_label(ids, lbl_path)
        samples.append(
            Sample(img_path, lbl_path if write_labels else None,
                   ids if write_labels else None, img))
    return samples


def make_robotcar(root: str,
                  val_labels: Dict[str, np.ndarray],
                  train_shapes: Optional[Dict[str, Tuple[int, int]]] = None
                  ) -> Tuple[List[Sample], List[Sample]]:
    """``Oxford_Robot_ICCV19`` tree: ``train/`` images without labels,
    ``val/`` images with ``anno/`` labels.

    Returns:
        tuple: (train samples, val samples).
    """
    train, val = [], []
    for k, (name, shape) in enumerate(sorted((train_shapes or {}).items())):
        img_path, _ = formats.robotcar_paths(root, 'train', name)
        img = random_image(shape, seed=400 + k)
        formats.save_robotcar_image(img, img_path)
        train.append(Sample(img_path, None, None, img))
    for k, (name, ids) in enumerate(sorted(val_labels.items())):
        img_path, lbl_path = formats.robotcar_paths(root, 'val', name)
        img = random_image(ids.shape, seed=500 + k)
        formats.save_robotcar_image(img, img_path)
        formats.save_robotcar_label(ids, lbl_path)
        val.append(Sample(img_path, lbl_path, ids, img))
    return train, val


def make_gta5_and_cityscapes(root: str, num_source: int,
                             num_target: int = 5) -> Tuple[str, str]:
    """A small UDA pair under ``root``: ``gta/`` with ``num_source`` random
    GTA5 samples (4x6) and ``cityscapes/`` with ``num_target`` unlabelled
    Cityscapes train images (5x7, ``city/city_<k>_000019``); return the two
    roots."""
    gta = osp.join(str(root), 'gta')
    make_gta5(gta, [random_ids((4, 6), range(34), seed=s)
                    for s in range(num_source)])
    cs = osp.join(str(root), 'cityscapes')
    make_cityscapes(
        cs, 'train', {
            f'city/city_{k:06d}_000019': random_ids((5, 7), range(34), seed=k)
            for k in range(num_target)
        },
        write_labels=False)
    return gta, cs
