# Copyright (c) mmseg_uda contributors. All rights reserved.
"""SAC as published: the run's seed reaches the view generator, the class
prior follows the teacher's raw per-view softmax (Eq. 1), the release's
photometric noise order and peak confidence as options."""
import copy
import glob
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from conftest import build_uda, make_batch, sac_cfg
from mmengine.config import Config

from mmseg.registry import HOOKS
from mmseg_uda.engine.hooks import RunSeedHook

pytestmark = pytest.mark.usefixtures('uda_env')

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEACHER = dict(momentum=0.01, interval=3)


def _sac_model(**kwargs):
    return build_uda(seed=1, teacher=TEACHER, freeze_bn_stats=True,
                     self_training=sac_cfg(**kwargs))


# ----------------------------------------------------------------------------
# item 1: the run's seed drives the views and the noise
# ----------------------------------------------------------------------------


def _draw(model, run_seed, it=7):
    """Student views of iteration ``it`` after RunSeedHook gave the model
    ``run_seed`` (as a runner with ``randomness.seed=run_seed`` does)."""
    m = copy.deepcopy(model)
    RunSeedHook().before_train(SimpleNamespace(model=m, seed=run_seed))
    tgt = m.data_preprocessor(make_batch(), True)['target_inputs']
    views, targets, _ = m.make_pseudo_targets(tgt, it)
    return views, targets


def test_run_seed_reaches_views_and_noise():
    model = _sac_model(seed=None)
    v0, t0 = _draw(model, 0)
    v0b, t0b = _draw(model, 0)
    v1, t1 = _draw(model, 1)
    assert torch.equal(v0, v0b)
    assert torch.equal(t0['labels'], t0b['labels'])
    assert not torch.equal(v0, v1)
    assert not torch.equal(t0['confidence'], t1['confidence'])
    # the noise alone (same views, other generator state) differs too
    st = model.self_training
    st.set_run_seed(0)
    g0 = st.generator(7)
    st.set_run_seed(1)
    g1 = st.generator(7)
    assert not torch.equal(torch.rand(8, generator=g0),
                           torch.rand(8, generator=g1))


def test_fixed_seed_ignores_run_seed_and_missing_hook_is_an_error():
    fixed = _sac_model(seed=5)
    assert torch.equal(_draw(fixed, 0)[0], _draw(fixed, 1)[0])
    model = _sac_model(seed=None)
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    with pytest.raises(RuntimeError, match='RunSeedHook'):
        model.make_pseudo_targets(tgt, 0)


def test_run_seed_hook_in_every_config_and_sac_follows_it():
    assert HOOKS.get('RunSeedHook') is RunSeedHook
    configs = sorted(
        p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                             recursive=True) if '_base_' not in p)
    n_sac = 0
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.default_hooks.run_seed.type == 'RunSeedHook', path
        st = cfg.model.get('self_training')
        if st is not None:
            n_sac += 1
            assert st.get('seed') is None, path  # follows randomness.seed
    assert n_sac >= 8
