import copy
import warnings
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from torch.utils.data import Dataset

from mmseg.registry import DATASETS

_SEED_SALT = 0x5EED_7A6E  # separates the target draw from other seeded uses


@DATASETS.register_module()
class UDADataset(Dataset):
    """Pairs a labelled source dataset with an unlabelled target dataset.

    Each item holds one processed source sample and one processed target
    sample, each produced by its own dataset and pipeline (both pipelines
    must end with ``PackSegInputs``)::

        dict(inputs=<source image tensor>,
             data_samples=<source SegDataSample, with gt_sem_seg>,
             target_inputs=<target image tensor>,
             target_data_samples=<target SegDataSample>)

    which mmengine's ``pseudo_collate`` turns into a dict of lists.

    Indexing:

    - ``dataset[(src_idx, tgt_idx)]``: the pair chosen by a sampler such as
      :class:`UDAInfiniteSampler`, which shuffles source and target
      independently.
    - ``dataset[(src_idx, None)]``: the source sample alone; the target
      entries of the item are ``None`` (nothing is loaded). Used by
      :class:`UDABatchSampler` for batches with fewer target than source
      images; :class:`UDADataPreProcessor` drops the ``None`` entries.
    - ``dataset[idx]`` (any other sampler): source sample ``idx`` and a
      target index drawn uniformly from ``[0, len(target))`` by
      ``numpy.random.default_rng((seed, salt, idx))``, so the same
      ``(seed, idx)`` always gives the same target sample, independently of
      workers, ranks and call order.

    ``len(dataset)`` is the source length; ``source_len`` / ``target_len``
    give both. ``metainfo`` is the target's (evaluation and visualisation
    happen in the target label space). The source and target class lists
    must have the same length (e.g. SYNTHIA 'synthia16' with Cityscapes
    'cityscapes16'); a mismatch is an error at build time.

    Args:
        source (dict | BaseDataset): Source dataset or its config.
        target (dict | BaseDataset): Target dataset or its config.
        seed (int): Seed of the target draw for integer indices.
            Defaults to 0.
        lazy_init (bool): Whether to defer ``full_init`` of both datasets.
            Defaults to False.
    """

    def __init__(self,
                 source: Union[dict, BaseDataset],
                 target: Union[dict, BaseDataset],
                 seed: int = 0,
                 lazy_init: bool = False) -> None:
        self.source = self._build(source, 'source')
        self.target = self._build(target, 'target')
        self.seed = int(seed)
        self._check_classes()
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @staticmethod
    def _build(cfg: Union[dict, BaseDataset], role: str) -> Dataset:
        if isinstance(cfg, dict):
            return DATASETS.build(cfg)
        if isinstance(cfg, Dataset):
            return cfg
        raise TypeError(f'UDADataset: `{role}` must be a dataset config '
                        f'dict or a dataset, got {type(cfg)}')

    def _check_classes(self) -> None:
        src = tuple(self.source.metainfo.get('classes') or ())
        tgt = tuple(self.target.metainfo.get('classes') or ())
        src_name = type(self.source).__name__
        tgt_name = type(self.target).__name__
        if not src or not tgt:
            raise ValueError(
                f'UDADataset: source {src_name} and target {tgt_name} must '
                'both define metainfo `classes`')
        if len(src) != len(tgt):
            raise ValueError(
                f'UDADataset: source {src_name} has {len(src)} classes but '
                f'target {tgt_name} has {len(tgt)}; pick matching label '
                "mappings (e.g. SYNTHIA 'synthia16' with Cityscapes "
                "'cityscapes16')")
        if src != tgt:
            warnings.warn(
                f'UDADataset: source {src_name} and target {tgt_name} class '
                f'names differ ({src} vs {tgt}); train id i of the source is '
                'taken as class i of the target.')

    def full_init(self) -> None:
        """Fully initialise the source and target datasets."""
        if self._fully_initialized:
            return
        for ds in (self.source, self.target):
            if hasattr(ds, 'full_init'):
                ds.full_init()
        for role, ds in (('source', self.source), ('target', self.target)):
            if len(ds) == 0:
                raise ValueError(f'UDADataset: the {role} dataset '
                                 f'{type(ds).__name__} is empty')
        self._fully_initialized = True

    @property
    def metainfo(self) -> dict:
        """Meta information of the target dataset (a copy)."""
        return copy.deepcopy(self.target.metainfo)

    @property
    def source_len(self) -> int:
        """Number of source samples."""
        return len(self.source)

    @property
    def target_len(self) -> int:
        """Number of target samples."""
        return len(self.target)

    def __len__(self) -> int:
        return len(self.source)

    def target_index_of(self, idx: int) -> int:
        """Target index paired with source index ``idx`` for integer
        indexing (deterministic in ``(seed, idx)``).

        Args:
            idx (int): Non-negative source index.
        """
        rng = np.random.default_rng((self.seed & 0xFFFFFFFF, _SEED_SALT, idx))
        return int(rng.integers(self.target_len))

    @staticmethod
    def _check_index(idx, size: int, role: str) -> int:
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f'UDADataset: {role} index must be an int, got '
                            f'{type(idx)}')
        idx = int(idx)
        if not -size <= idx < size:
            raise IndexError(f'UDADataset: {role} index {idx} out of range '
                             f'for {size} samples')
        return idx % size

    def _resolve(self, idx) -> Tuple[int, Optional[int]]:
        if isinstance(idx, Sequence) and not isinstance(idx, str):
            if len(idx) != 2:
                raise ValueError('UDADataset: a tuple index must be '
                                 f'(src_idx, tgt_idx), got {idx!r}')
            tgt = None if idx[1] is None else self._check_index(
                idx[1], self.target_len, 'target')
            return self._check_index(idx[0], self.source_len, 'source'), tgt
        src = self._check_index(idx, self.source_len, 'source')
        return src, self.target_index_of(src)

    @staticmethod
    def _unpack(sample, role: str, idx: int) -> tuple:
        if not isinstance(sample, dict) or 'inputs' not in sample \
                or 'data_samples' not in sample:
            raise KeyError(
                f'UDADataset: {role} sample {idx} lacks `inputs` / '
                f'`data_samples`; end the {role} pipeline with PackSegInputs')
        return sample['inputs'], sample['data_samples']

    def __getitem__(self, idx: Union[int, Tuple[int, int]]) -> dict:
        """Get a processed (source, target) pair.

        Args:
            idx (int | tuple[int, int | None]): Source index, or
                ``(src_idx, tgt_idx)``; ``tgt_idx=None`` for no target.

        Returns:
            dict: ``inputs``, ``data_samples``, ``target_inputs`` and
            ``target_data_samples`` (the last two None without a target).
        """
        if not self._fully_initialized:
            self.full_init()
        src_idx, tgt_idx = self._resolve(idx)
        inputs, data_samples = self._unpack(self.source[src_idx], 'source',
                                            src_idx)
        t_inputs, t_samples = None, None
        if tgt_idx is not None:
            t_inputs, t_samples = self._unpack(self.target[tgt_idx],
                                               'target', tgt_idx)
        return dict(
            inputs=inputs,
            data_samples=data_samples,
            target_inputs=t_inputs,
            target_data_samples=t_samples)

    def __repr__(self) -> str:
        src, tgt = type(self.source).__name__, type(self.target).__name__
        return (f'{self.__class__.__name__}(source={src}[{len(self.source)}], '
                f'target={tgt}[{len(self.target)}], seed={self.seed})')
