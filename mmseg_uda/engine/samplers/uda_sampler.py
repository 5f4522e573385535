import itertools
from typing import Iterator, Optional, Sized, Tuple

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmseg.registry import DATA_SAMPLERS

# Offset between the source and target generator seeds, so that the two
# streams are shuffled independently even when both datasets have the same
# length.
_TARGET_SEED_OFFSET = 0x9E3779B9


@DATA_SAMPLERS.register_module()
class UDAInfiniteSampler(Sampler):
    """Infinite sampler of ``(src_idx, tgt_idx)`` pairs for ``UDADataset``.

    Source and target indices come from two independent infinite streams
    (by default each a sequence of fresh random permutations drawn from its
    own seeded ``torch.Generator``; the target generator is seeded with
    ``seed + 0x9E3779B9``). The streams are zipped into pairs, and rank ``r``
    of ``world_size`` takes pairs ``r, r + world_size, ...`` of this common
    stream, like mmengine's ``InfiniteSampler``. The seed defaults to
    ``sync_random_seed()``, which is the same on all ranks.

    Subclasses can replace either stream by overriding
    :meth:`_source_indices` / :meth:`_target_indices` (e.g. a class-balanced
    target sampler); each must return an infinite iterator of ints and may
    use ``self.seed``, ``self.dataset``, ``self.source_size`` and
    ``self.target_size``.

    Args:
        dataset (Sized): A dataset exposing ``source_len`` and
            ``target_len`` (e.g. :class:`UDADataset`).
        shuffle (bool): Whether to shuffle; if False each stream cycles
            through ``0 .. n-1``. Defaults to True.
        seed (int, optional): Random seed. Defaults to None (a seed synced
            across ranks).
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        if not (hasattr(dataset, 'source_len')
                and hasattr(dataset, 'target_len')):
            raise TypeError(
                f'{self.__class__.__name__} needs a dataset exposing '
                '`source_len` and `target_len` (a UDADataset), got '
                f'{type(dataset).__name__}')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.source_size = int(dataset.source_len)
        self.target_size = int(dataset.target_len)
        for role, size in (('source', self.source_size),
                           ('target', self.target_size)):
            if size <= 0:
                raise ValueError(
                    f'{self.__class__.__name__}: the {role} dataset is empty')

    def _stream(self, size: int, seed: int) -> Iterator[int]:
        """Infinite stream of epochs over ``range(size)``."""
        g = torch.Generator()
        g.manual_seed(seed)
        while True:
            if self.shuffle:
                yield from torch.randperm(size, generator=g).tolist()
            else:
                yield from range(size)

    def _source_indices(self) -> Iterator[int]:
        """Infinite iterator of source indices (common to all ranks)."""
        return self._stream(self.source_size, self.seed)

    def _target_indices(self) -> Iterator[int]:
        """Infinite iterator of target indices (common to all ranks)."""
        return self._stream(self.target_size,
                            (self.seed + _TARGET_SEED_OFFSET) % (1 << 63))

    def _infinite_pairs(self) -> Iterator[Tuple[int, int]]:
        """Infinite stream of pairs, common to all ranks."""
        return zip(self._source_indices(), self._target_indices())

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        """Yield this rank's pairs: its slice ``rank::world_size`` of the
        common stream."""
        yield from itertools.islice(self._infinite_pairs(), self.rank, None,
                                    self.world_size)

    def __len__(self) -> int:
        """Length of the source dataset (as mmengine's InfiniteSampler)."""
        return self.source_size

    def set_epoch(self, epoch: int) -> None:
        """Not used by iteration-based training."""
