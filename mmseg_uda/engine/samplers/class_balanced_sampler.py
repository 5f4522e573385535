# Copyright (c) OpenMMLab. All rights reserved.
"""Class-balanced importance sampling of target images (SAC, Sec. 3.4)."""
import os.path as osp
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.fileio import load
from torch import Tensor

from mmseg.registry import DATA_SAMPLERS
from .uda_sampler import UDAInfiniteSampler

STAT_MODES = ('soft', 'count')
# Seed offset of the class-balanced target stream (independent of the
# source stream even for equal dataset lengths).
_BALANCED_SEED_OFFSET = 0x5AC_7A46E7


def per_image_class_stats(seg_logits: Tensor,
                          mode: str = 'soft',
                          is_probs: bool = False) -> Tensor:
    """Per-image class statistic of predicted segmentations.

    - ``'soft'`` (paper, Eq. 1): ``chi_{c,l} = 1/(hw) sum_ij m_{c,l,i,j}``,
      the mean softmax probability of class ``c`` in image ``l``.
    - ``'count'`` (release): the number of pixels of image ``l`` predicted as
      ``c`` (normalised over the images by :func:`finalize_class_stats`).

    Args:
        seg_logits (Tensor): Logits (C, H, W) of one image or (N, C, H, W),
            or class probabilities with ``is_probs=True``.
        mode (str): 'soft' or 'count'. Defaults to 'soft'.
        is_probs (bool): The input already holds probabilities (summing to
            one over classes); 'soft' then averages them without another
            softmax. Defaults to False.

    Returns:
        Tensor: Statistic (C,) or (N, C), float64.
    """
    if mode not in STAT_MODES:
        raise ValueError(f'mode must be one of {STAT_MODES}, got {mode!r}')
    single = seg_logits.dim() == 3
    logits = seg_logits.unsqueeze(0) if single else seg_logits
    if logits.dim() != 4:
        raise ValueError('seg_logits must be (C, H, W) or (N, C, H, W), got '
                         f'{tuple(seg_logits.shape)}')
    logits = logits.detach().double()
    N, C = logits.shape[:2]
    if mode == 'soft':
        probs = logits if is_probs else logits.softmax(dim=1)
        stats = probs.mean(dim=(2, 3))
    else:
        pred = logits.argmax(dim=1).flatten(1)  # (N, HW)
        stats = torch.zeros(N, C, dtype=torch.float64, device=pred.device)
        stats.scatter_add_(1, pred, torch.ones_like(pred, dtype=stats.dtype))
    return stats[0] if single else stats


def finalize_class_stats(stats: np.ndarray, mode: str = 'soft') -> np.ndarray:
    """Turn stacked per-image statistics into the sampler's statistic.

    - ``'soft'``: unchanged.
    - ``'count'`` (release): ``chi_{c,l} = n_{c,l} / sum_n n_{c,n}``, the
      share of all pixels predicted as ``c`` that lie in image ``l`` (0 for a
      class never predicted).

    Args:
        stats (np.ndarray): Per-image statistics (num_images, num_classes).
        mode (str): 'soft' or 'count'. Defaults to 'soft'.

    Returns:
        np.ndarray: (num_images, num_classes), float64.
    """
    if mode not in STAT_MODES:
        raise ValueError(f'mode must be one of {STAT_MODES}, got {mode!r}')
    stats = np.asarray(stats, dtype=np.float64)
    if mode == 'count':
        total = stats.sum(axis=0, keepdims=True)
        stats = np.divide(
            stats, total, out=np.zeros_like(stats), where=total > 0)
    return stats


def load_class_stats(filename: str) -> np.ndarray:
    """Load a (num_images, num_classes) class statistic.

    ``.npy`` files hold the array; any format of :func:`mmengine.load`
    (``.json``, ``.pkl``, ``.yaml``) holds either the nested list or a dict
    with the key ``'class_stats'`` (as written by
    ``tools/compute_class_stats.py``).

    Args:
        filename (str): Path of the file.

    Returns:
        np.ndarray: float64 array (num_images, num_classes), finite and
        non-negative.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'class statistics file {filename!r} not '
                                'found')
    if filename.endswith('.npy'):
        stats = np.load(filename, allow_pickle=False)
    else:
        stats = load(filename)
        if isinstance(stats, dict):
            if 'class_stats' not in stats:
                raise KeyError(f'class statistics file {filename!r} holds a '
                               "dict without the key 'class_stats'")
            stats = stats['class_stats']
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2:
        raise ValueError(f'class statistics in {filename!r} must be 2-D '
                         '(num_images, num_classes), got shape '
                         f'{stats.shape}')
    if not np.isfinite(stats).all():
        raise ValueError(f'class statistics in {filename!r} contain NaN or '
                         'inf')
    if (stats < 0).any():
        raise ValueError(f'class statistics in {filename!r} contain '
                         f'negative values (min {stats.min()})')
    return stats


@DATA_SAMPLERS.register_module()
class ClassBalancedTargetSampler(UDAInfiniteSampler):
    """UDA sampler whose target stream is class-balanced (SAC, Eq. 7-8).

    Every target index is drawn independently: with probability
    ``uniform_ratio`` uniformly over the target images; otherwise a class
    ``c`` is drawn uniformly among the classes with non-zero total mass,
    then an image ``l`` with probability (Eq. 8)

    .. math::
        \\hat\\chi_{c,l} = \\chi_{c,l} / \\sum_n \\chi_{c,n}.

    Paper: ``uniform_ratio=0`` and the soft prior statistic; release:
    ``uniform_ratio=0.25`` (the default) and the predicted-pixel-count
    statistic (see ``tools/compute_class_stats.py --mode``). Images with no
    mass in any class are only reachable through the uniform part.

    The source stream is the parent's (shuffled epochs); pairs are split
    over ranks by the parent (rank ``r`` takes pairs ``r::world_size`` of one
    common stream), so every rank draws the same target stream from the
    seed, which makes the sampler deterministic and resumable from ``seed``.

    Args:
        dataset (Sized): A ``UDADataset`` (``source_len``, ``target_len``).
        class_stats_file (str): File with the statistic ``chi`` of shape
            (target_len, num_classes), see :func:`load_class_stats`.
        uniform_ratio (float): Share of uniformly drawn target images.
            Defaults to 0.25 (release).
        shuffle (bool): Shuffling of the source stream. Defaults to True.
        seed (int, optional): Random seed. Defaults to None (synced across
            ranks).
        chunk_size (int): Target indices drawn per vectorised batch.
            Defaults to 1024.
    """

    def __init__(self,
                 dataset: Sized,
                 class_stats_file: str,
                 uniform_ratio: float = 0.25,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 chunk_size: int = 1024) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        if not 0 <= uniform_ratio <= 1:
            raise ValueError(
                f'uniform_ratio must be in [0, 1], got {uniform_ratio}')
        if chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
        stats = load_class_stats(class_stats_file)
        if stats.shape[0] != self.target_size:
            raise ValueError(
                f'class statistics file {class_stats_file!r} has '
                f'{stats.shape[0]} rows but the target dataset has '
                f'{self.target_size} images; recompute it with '
                'tools/compute_class_stats.py for this dataset')
        mass = stats.sum(axis=0)
        self.valid_classes = np.flatnonzero(mass > 0)
        if len(self.valid_classes) == 0 and uniform_ratio < 1:
            raise ValueError(f'class statistics file {class_stats_file!r} '
                             'has no class with non-zero mass')
        self.class_stats_file = class_stats_file
        self.uniform_ratio = float(uniform_ratio)
        self.chunk_size = int(chunk_size)
        # (K, N) per-class image distributions of the valid classes
        probs = stats[:, self.valid_classes].T / mass[self.valid_classes, None]
        self.class_image_probs = probs
        # One increasing array ``k + cdf_k`` over all valid classes k: the
        # image of class k with U(0, 1) sample u is found by a single
        # ``searchsorted(k + u)`` for a whole chunk of draws.
        cdf = np.minimum(np.cumsum(probs, axis=1), 1.0)
        if cdf.size:
            cdf[:, -1] = 1.0
        offsets = np.arange(len(self.valid_classes), dtype=np.float64)
        self._flat_cdf = torch.from_numpy((cdf + offsets[:, None]).reshape(-1))

    def _target_indices(self) -> Iterator[int]:
        """Infinite class-balanced target stream (common to all ranks)."""
        g = torch.Generator()
        g.manual_seed((self.seed + _BALANCED_SEED_OFFSET) % (1 << 63))
        N = self.target_size
        K = len(self.valid_classes)
        while True:
            u = torch.rand(
                self.chunk_size, 3, generator=g, dtype=torch.float64)
            uniform_idx = (u[:, 2] * N).long().clamp_(max=N - 1)
            if K == 0:
                yield from uniform_idx.tolist()
                continue
            cls = (u[:, 1] * K).long().clamp_(max=K - 1)
            pos = torch.searchsorted(
                self._flat_cdf, cls.double() + u[:, 2], right=True)
            class_idx = (pos - cls * N).clamp_(0, N - 1)
            take_uniform = u[:, 0] < self.uniform_ratio
            yield from torch.where(take_uniform, uniform_idx,
                                   class_idx).tolist()
