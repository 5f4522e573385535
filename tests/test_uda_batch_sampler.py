"""Batches with fewer target than source images: UDABatchSampler built by
mmengine's runner, UDADataset's target-less items, UDADataPreProcessor and
one SAC step on such a batch (SAC, Sec. 4.1: 8 source + 2 target images
per step)."""
import itertools
import os.path as osp
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from conftest import build_optim, build_uda, make_batch, sac_cfg  # noqa
from helpers.formats import make_gta5_and_cityscapes  # noqa

from mmseg.registry import MODELS  # noqa: E402
from mmseg_uda.engine.hooks import EMATeacherHook  # noqa: E402
from mmseg_uda.engine.samplers import (UDABatchSampler,  # noqa: E402
                                       UDAInfiniteSampler)

init_default_scope('mmseg')


@pytest.fixture
def uda_dataset_cfg(tmp_path):
    gta, cs = make_gta5_and_cityscapes(tmp_path, num_source=7)
    return dict(
        type='UDADataset',
        source=dict(type='GTA5Dataset', data_root=gta, pipeline=[
            dict(type='LoadCheckedImageFromFile'),
            dict(type='LoadMappedAnnotations'),
            dict(type='PackSegInputs')]),
        target=dict(type='CityscapesRawDataset', data_root=cs,
                    with_labels=False, pipeline=[
                        dict(type='LoadCheckedImageFromFile'),
                        dict(type='PackSegInputs')]))


def _loader(dataset_cfg, batch_size, target_batch_size):
    return Runner.build_dataloader(
        dict(batch_size=batch_size, num_workers=0,
             sampler=dict(type='UDAInfiniteSampler', seed=7),
             batch_sampler=dict(type='UDABatchSampler',
                                target_batch_size=target_batch_size),
             dataset=dataset_cfg))


@pytest.mark.parametrize('bs,tbs', [(4, 1), (3, 2), (2, None), (2, 0)])
def test_batches_hold_target_batch_size_targets(uda_dataset_cfg, bs, tbs):
    loader = _loader(uda_dataset_cfg, bs, tbs)
    assert isinstance(loader.batch_sampler, UDABatchSampler)
    ds = loader.dataset
    # the pairs the sampler draws, independently of the batch sampler
    pairs = list(itertools.islice(
        iter(UDAInfiniteSampler(ds, seed=7)), 2 * bs))
    n_tgt = bs if tbs is None else tbs
    pre = MODELS.build(dict(type='UDADataPreProcessor', size=(8, 8)))
    for b, batch in enumerate(itertools.islice(iter(loader), 2)):
        chunk = pairs[b * bs:(b + 1) * bs]
        assert [s.img_path for s in batch['data_samples']] == [
            ds.source.get_data_info(s)['img_path'] for s, _ in chunk]
        kept = [s for s in batch['target_data_samples'] if s is not None]
        assert [s.img_path for s in kept] == [
            ds.target.get_data_info(t)['img_path'] for _, t in chunk[:n_tgt]]
        out = pre(batch, True)
        assert out['inputs'].shape[0] == bs
        if n_tgt:
            assert out['target_inputs'].shape[0] == n_tgt
            assert len(out['target_data_samples']) == n_tgt
        else:
            assert 'target_inputs' not in out


def test_batch_sampler_errors():
    sampler = [(0, 0), (1, 1)]
    with pytest.raises(ValueError, match='target_batch_size'):
        UDABatchSampler(sampler, batch_size=2, target_batch_size=3)
    with pytest.raises(TypeError, match='pairs'):
        next(iter(UDABatchSampler([0, 1], batch_size=2)))


def _sac_model():
    model = build_uda(
        teacher=dict(momentum=0.01, interval=3), self_training=sac_cfg(),
        freeze_bn_stats=True)
    EMATeacherHook().before_train(SimpleNamespace(model=model))
    return model


def test_sac_step_with_fewer_target_images(uda_env):
    """A batch of 2 source + 1 target image (the second pair's target
    dropped) trains exactly like the batch built with one target image."""
    batch = make_batch(n=2)
    single = dict(batch)
    single['target_inputs'] = batch['target_inputs'][:1]
    single['target_data_samples'] = batch['target_data_samples'][:1]
    padded = dict(batch)
    padded['target_inputs'] = [batch['target_inputs'][0], None]
    padded['target_data_samples'] = [batch['target_data_samples'][0], None]

    a, b = _sac_model(), _sac_model()
    logs_a = a.train_step(padded, build_optim(a))
    logs_b = b.train_step(single, build_optim(b))
    assert set(logs_a) == set(logs_b) and 'tgt.loss_sac' in logs_a
    for k in logs_a:
        torch.testing.assert_close(
            torch.as_tensor(logs_a[k]), torch.as_tensor(logs_b[k]), msg=k)
    # the full two-target batch gives another step
    c = _sac_model()
    logs_c = c.train_step(batch, build_optim(c))
    assert float(logs_c['tgt.loss_sac']) != float(logs_a['tgt.loss_sac'])
