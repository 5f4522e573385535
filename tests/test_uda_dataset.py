"""Tests of UDADataset and UDAInfiniteSampler."""
import itertools
import os.path as osp
import sys

import pytest
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from helpers.formats import (make_gta5_and_cityscapes,  # noqa: E402
                             make_synthia, random_ids)

from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from mmseg.registry import DATA_SAMPLERS, DATASETS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmseg_uda.datasets import UDADataset  # noqa: E402
from mmseg_uda.engine.samplers import UDAInfiniteSampler  # noqa: E402
from mmseg_uda.engine.samplers import uda_sampler  # noqa: E402

init_default_scope('mmseg')

SRC_PIPELINE = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='PackSegInputs')
]
TGT_PIPELINE = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='PackSegInputs')
]


@pytest.fixture
def roots(tmp_path):
    gta, cs = make_gta5_and_cityscapes(tmp_path, num_source=3)
    synthia = str(tmp_path / 'synthia')
    make_synthia(synthia, [random_ids((4, 6), range(23), seed=0)])
    return dict(gta=gta, cs=cs, synthia=synthia)


def _uda_cfg(roots, **kwargs):
    return dict(
        type='UDADataset',
        source=dict(
            type='GTA5Dataset', data_root=roots['gta'],
            pipeline=SRC_PIPELINE),
        target=dict(
            type='CityscapesRawDataset',
            data_root=roots['cs'],
            with_labels=False,
            pipeline=TGT_PIPELINE),
        **kwargs)


def test_uda_dataset_items(roots):
    ds = DATASETS.build(_uda_cfg(roots, seed=3))
    assert isinstance(ds, UDADataset)
    assert len(ds) == 3 and ds.source_len == 3 and ds.target_len == 5
    assert ds.metainfo == ds.target.metainfo
    assert len(ds.metainfo['classes']) == 19

    item = ds[(2, 4)]
    assert set(item) == {
        'inputs', 'data_samples', 'target_inputs', 'target_data_samples'
    }
    assert tuple(item['inputs'].shape) == (3, 4, 6)
    assert tuple(item['target_inputs'].shape) == (3, 5, 7)
    assert isinstance(item['data_samples'], SegDataSample)
    assert 'gt_sem_seg' in item['data_samples']
    assert 'gt_sem_seg' not in item['target_data_samples']
    assert item['data_samples'].img_path.endswith('00003.png')
    assert item['target_data_samples'].img_path.endswith(
        'city_000004_000019_leftImg8bit.png')

    # Integer index: the target is a deterministic function of (seed, idx).
    tgt = [ds.target_index_of(i) for i in range(3)]
    assert all(0 <= t < 5 for t in tgt)
    assert tgt == [
        DATASETS.build(_uda_cfg(roots, seed=3)).target_index_of(i)
        for i in range(3)
    ]
    item = ds[1]
    assert item['target_data_samples'].img_path == \
        ds.target.get_data_info(tgt[1])['img_path']
    other = []
    for seed in range(20):
        ds.seed = seed
        other.append(ds.target_index_of(0))
    assert len(set(other)) > 1  # depends on the seed

    with pytest.raises(IndexError):
        ds[(0, 5)]
    with pytest.raises(IndexError):
        ds[3]


def test_uda_dataset_pseudo_collate(roots):
    ds = DATASETS.build(_uda_cfg(roots))
    batch = pseudo_collate([ds[(0, 1)], ds[(1, 3)]])
    assert set(batch) == {
        'inputs', 'data_samples', 'target_inputs', 'target_data_samples'
    }
    for key in batch:
        assert isinstance(batch[key], list) and len(batch[key]) == 2
    assert all(isinstance(s, SegDataSample) for s in batch['data_samples'])
    assert batch['inputs'][1].shape == torch.Size([3, 4, 6])


def test_uda_dataset_class_mismatch(roots):
    cfg = _uda_cfg(roots)
    cfg['source'] = dict(
        type='SynthiaDataset', data_root=roots['synthia'],
        pipeline=SRC_PIPELINE)  # 16 classes vs 19 of the target
    with pytest.raises(ValueError, match='16 classes.*19'):
        DATASETS.build(cfg)
    cfg['target']['label_mapping'] = 'cityscapes16'
    ds = DATASETS.build(cfg)
    assert len(ds.metainfo['classes']) == 16


class _FakeUDA:
    source_len = 7
    target_len = 4


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_sampler_deterministic_and_permutations():
    a = _take(UDAInfiniteSampler(_FakeUDA(), seed=5), 28)
    b = _take(UDAInfiniteSampler(_FakeUDA(), seed=5), 28)
    c = _take(UDAInfiniteSampler(_FakeUDA(), seed=6), 28)
    assert a == b and a != c
    assert all(isinstance(p, tuple) and len(p) == 2 for p in a)
    src = [s for s, _ in a]
    tgt = [t for _, t in a]
    for e in range(4):  # every source epoch is a permutation
        assert sorted(src[7 * e:7 * e + 7]) == list(range(7))
    for e in range(7):
        assert sorted(tgt[4 * e:4 * e + 4]) == list(range(4))
    plain = _take(UDAInfiniteSampler(_FakeUDA(), shuffle=False, seed=5), 8)
    assert plain == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 0), (5, 1), (6, 2),
                     (0, 3)]
    with pytest.raises(TypeError, match='source_len'):
        UDAInfiniteSampler(list(range(3)), seed=0)


def test_sampler_ranks(monkeypatch):
    full = _take(UDAInfiniteSampler(_FakeUDA(), seed=11), 40)
    parts = []
    for rank in range(2):
        monkeypatch.setattr(uda_sampler, 'get_dist_info',
                            lambda r=rank: (r, 2))
        parts.append(_take(UDAInfiniteSampler(_FakeUDA(), seed=11), 20))
    assert parts[0] == full[0::2]
    assert parts[1] == full[1::2]


def test_sampler_target_stream_override():

    class ConstantTarget(UDAInfiniteSampler):

        def _target_indices(self):
            return itertools.repeat(self.target_size - 1)

    pairs = _take(ConstantTarget(_FakeUDA(), seed=1), 10)
    assert [t for _, t in pairs] == [3] * 10
    assert [s for s, _ in pairs] == [
        s for s, _ in _take(UDAInfiniteSampler(_FakeUDA(), seed=1), 10)
    ]


def test_sampler_with_dataloader(roots):
    ds = DATASETS.build(_uda_cfg(roots))
    sampler = DATA_SAMPLERS.build(
        dict(type='UDAInfiniteSampler', seed=0), default_args=dict(dataset=ds))
    loader = DataLoader(
        ds, batch_size=2, sampler=sampler, collate_fn=pseudo_collate)
    it = iter(loader)
    expected = _take(UDAInfiniteSampler(ds, seed=0), 4)
    for b in range(2):
        batch = next(it)
        assert len(batch['inputs']) == 2
        for k in range(2):
            src, tgt = expected[2 * b + k]
            assert batch['data_samples'][k].img_path == \
                ds.source.get_data_info(src)['img_path']
            assert batch['target_data_samples'][k].img_path == \
                ds.target.get_data_info(tgt)['img_path']
