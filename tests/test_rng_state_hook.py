# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Unit tests of RNGStateHook and of ``--resume`` resolution (fast, in one
process; the end-to-end checks are in tests/test_exact_resume.py)."""
import glob
import io
import os.path as osp
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmseg_uda  # noqa: F401
from mmseg.registry import HOOKS
from mmseg_uda.engine.hooks import RNGStateHook
from mmseg_uda.engine.hooks.rng_state_hook import (CKPT_KEY,
                                                   _RestoreAfterSkip,
                                                   get_rng_state,
                                                   set_rng_state)
from mmseg_uda.utils.resume import resolve_resume

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def draws():
    """One number from each global generator (numpy twice, covering the
    cached Gaussian)."""
    return (random.random(), float(np.random.rand()),
            float(np.random.randn()), torch.rand(3).tolist())


def test_state_round_trip():
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    state = get_rng_state()
    first = draws()
    draws()
    set_rng_state(state)
    assert draws() == first


def test_state_survives_a_weights_only_checkpoint():
    state = get_rng_state()
    first = draws()
    buf = io.BytesIO()
    torch.save({CKPT_KEY: dict(world_size=1, states=[state])}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)[CKPT_KEY]['states'][0]
    set_rng_state(loaded)
    assert draws() == first


def _runner(it, batches=()):
    loop = SimpleNamespace(dataloader_iterator=iter(batches))
    return SimpleNamespace(iter=it, train_loop=loop, hooks=[])


def test_saves_the_state_of_the_checkpoint_moment():
    hook = RNGStateHook()
    ckpt = {}
    state = get_rng_state()
    hook.before_save_checkpoint(_runner(2), ckpt)
    assert ckpt[CKPT_KEY]['world_size'] == 1
    set_rng_state(ckpt[CKPT_KEY]['states'][0])
    first = draws()
    set_rng_state(state)
    assert draws() == first


def test_validation_does_not_consume_the_training_stream():
    hook = RNGStateHook()
    runner = _runner(5)
    state = get_rng_state()
    expected = draws()
    set_rng_state(state)
    hook.before_val(runner)
    draws()  # validation draws
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)  # e.g. save_best
    hook.after_val(runner)
    assert draws() == expected
    set_rng_state(ckpt[CKPT_KEY]['states'][0])
    assert draws() == expected


def test_resume_restores_after_the_dataloader_skip():
    hook = RNGStateHook()
    state = get_rng_state()
    expected = draws()
    ckpt = {CKPT_KEY: dict(world_size=1, states=[state])}
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)

    seen = []

    def batches():
        for i in range(10):
            seen.append((i, draws()))  # transforms draw (num_workers=0)
            yield i

    runner = _runner(3, batches())
    hook.after_load_checkpoint(runner, ckpt)
    hook.before_train(runner)
    loader = runner.train_loop.dataloader_iterator
    assert [next(loader) for _ in range(3)] == [0, 1, 2]  # the skip
    assert next(loader) == 3
    assert seen[3] == (3, expected)  # first new batch: restored stream
    hook.before_train_iter(runner, 3)
    assert runner.train_loop.dataloader_iterator is loader.iterator


def test_load_from_keeps_the_seeded_generators():
    hook = RNGStateHook()
    ckpt = {CKPT_KEY: dict(world_size=1, states=[get_rng_state()])}
    draws()
    state = get_rng_state()
    runner = _runner(0, range(3))
    hook.after_load_checkpoint(runner, ckpt)
    hook.before_train(runner)  # iteration 0: not a resume
    assert not isinstance(runner.train_loop.dataloader_iterator,
                          _RestoreAfterSkip)
    after = get_rng_state()
    assert torch.equal(after['torch'], state['torch'])


def test_other_world_size_keeps_the_seeded_generators():
    hook = RNGStateHook()
    ckpt = {CKPT_KEY: dict(world_size=2, states=[get_rng_state()] * 2)}
    runner = _runner(4, range(10))
    hook.after_load_checkpoint(runner, ckpt)
    state = get_rng_state()
    hook.before_train(runner)
    assert torch.equal(get_rng_state()['torch'], state['torch'])
    assert not isinstance(runner.train_loop.dataloader_iterator,
                          _RestoreAfterSkip)


@pytest.mark.slow
def test_registered_and_in_every_config():
    assert HOOKS.get('RNGStateHook') is RNGStateHook
    configs = sorted(
        p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                             recursive=True)
        if '_base_' not in p and 'benchmarks' not in p)
    assert len(configs) >= 20
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.default_hooks.rng_state.type == 'RNGStateHook', path


@pytest.fixture
def cfg(tmp_path):
    return Config(dict(work_dir=str(tmp_path), load_from='init.pth'))


def test_resolve_resume_without_checkpoint_starts_from_load_from(cfg):
    resolve_resume(cfg, 'auto')
    assert cfg.resume is False and cfg.load_from == 'init.pth'


def test_resolve_resume_continues_the_latest_checkpoint(cfg):
    latest = osp.join(cfg.work_dir, 'iter_3.pth')
    # --resume verifies the checkpoint (tests/test_checkpoint_atomicity.py)
    torch.save(dict(meta=dict(iter=3), state_dict={}), latest)
    with open(osp.join(cfg.work_dir, 'last_checkpoint'), 'w') as f:
        f.write(latest)
    for option in (True, 'auto'):
        resolve_resume(cfg, option)
        assert cfg.resume is True and cfg.load_from == latest


def test_resolve_resume_explicit_and_off(cfg):
    resolve_resume(cfg, 'other/iter_5.pth')
    assert cfg.resume is True and cfg.load_from == 'other/iter_5.pth'
    cfg.load_from = 'init.pth'
    for option in (None, False):
        resolve_resume(cfg, option)
        assert cfg.resume is False and cfg.load_from == 'init.pth'
