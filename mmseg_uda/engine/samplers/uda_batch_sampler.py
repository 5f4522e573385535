"""Batches with fewer target than source images (SAC's 8 + 2 per step)."""
from typing import Iterator, List, Optional, Tuple

from torch.utils.data import BatchSampler, Sampler

from mmseg.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class UDABatchSampler(BatchSampler):
    """Groups ``(src_idx, tgt_idx)`` pairs into batches of ``batch_size``
    source images of which only the first ``target_batch_size`` keep their
    target image.

    :class:`UDADataset` pairs every source sample with one target sample,
    so a plain dataloader gives as many target as source images. SAC
    (Araslanov & Roth, CVPR 2021, Sec. 4.1) trains each step on 8 source
    images and 2 target images (x 4 views). With this batch sampler, per
    process::

        train_dataloader = dict(
            batch_size=8,  # source images
            batch_sampler=dict(type='UDABatchSampler', target_batch_size=2),
            sampler=dict(type='UDAInfiniteSampler'), ...)

    gives batches of 8 source and 2 target images: the pairs ``0 ..
    target_batch_size - 1`` of a batch are kept whole, the others become
    ``(src_idx, None)``, for which :class:`UDADataset` loads no target image
    and :class:`UDADataPreProcessor` drops the empty target entries. The
    target images of the dropped pairs are skipped from the sampler's
    target stream (it stays an unbiased draw, e.g. the class-balanced one of
    :class:`ClassBalancedTargetSampler`, but a shuffled epoch is no longer
    covered exactly). mmengine's runner builds it with the dataloader's
    ``sampler`` and ``batch_size`` (``Runner.build_dataloader``). Batches
    are always full (``drop_last``): the UDA samplers are infinite.

    Args:
        sampler (Sampler): Yields ``(src_idx, tgt_idx)`` pairs, e.g.
            :class:`UDAInfiniteSampler`.
        batch_size (int): Source images per batch (per process).
        target_batch_size (int, optional): Target images per batch, at most
            ``batch_size``. Defaults to None (= ``batch_size``, one target
            per source image).
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 target_batch_size: Optional[int] = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError('UDABatchSampler: batch_size must be a positive '
                             f'int, got {batch_size!r}')
        if target_batch_size is None:
            target_batch_size = batch_size
        if not isinstance(target_batch_size, int) or \
                not 0 <= target_batch_size <= batch_size:
            raise ValueError(
                'UDABatchSampler: target_batch_size must be an int in [0, '
                f'batch_size={batch_size}], got {target_batch_size!r}; the '
                'target part of a batch cannot exceed its source part')
        super().__init__(sampler, batch_size, drop_last=True)
        self.target_batch_size = target_batch_size

    def _pair(self, idx, position: int) -> Tuple[int, Optional[int]]:
        if not isinstance(idx, (tuple, list)) or len(idx) != 2:
            raise TypeError(
                'UDABatchSampler needs a sampler of (src_idx, tgt_idx) pairs '
                f'(e.g. UDAInfiniteSampler), got {idx!r} from '
                f'{type(self.sampler).__name__}')
        return (idx[0], idx[1] if position < self.target_batch_size else None)

    def __iter__(self) -> Iterator[List[Tuple[int, Optional[int]]]]:
        batch = []
        for idx in self.sampler:
            batch.append(self._pair(idx, len(batch)))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
