# Copyright (c) mmseg_uda contributors. All rights reserved.
"""SAC as published: the run's seed reaches the view generator, the class
prior follows the teacher's raw per-view softmax (Eq. 1), the release's
photometric noise order and peak confidence as options."""
import copy
import glob
import importlib.util
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import build_uda, make_batch, sac_cfg
from mmengine.config import Config

from mmseg.registry import HOOKS, MODELS
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
                             recursive=True)
        if '_base_' not in p and 'benchmarks' not in p)
    n_sac = 0
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.default_hooks.run_seed.type == 'RunSeedHook', path
        st = cfg.model.get('self_training')
        if st is not None:
            n_sac += 1
            assert st.get('seed') is None, path  # follows randomness.seed
    assert n_sac >= 8


# ----------------------------------------------------------------------------
# item 4: the class prior (Eq. 1) from the teacher's raw per-view softmax
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('fusion_upsample', [None, 2.0])
@pytest.mark.parametrize('head', ['single', 'dual'])
def test_class_prior_from_raw_teacher_softmax(head, fusion_upsample):
    """After the first update (prior set to the batch statistic) the prior
    is the mean over views and pixels of the teacher's softmax of each view
    (for a dual head: of z_p + w z_a), at the fusion size - the fused
    per-view targets would give other numbers."""
    model = build_uda(head=head, seed=1, teacher=TEACHER,
                      freeze_bn_stats=True,
                      self_training=sac_cfg(fusion_upsample=fusion_upsample))
    RunSeedHook().before_train(SimpleNamespace(model=model, seed=3))
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    it = 4
    model.make_pseudo_targets(tgt, it)
    prior = model.self_training.pseudo_labeler.class_prior

    # independent: same views, teacher forward by hand
    st, teacher = model.self_training, model.teacher.module
    views, _, _ = st.views(tgt, st.generator(it))
    with torch.no_grad():
        feats = teacher.extract_feat(views)
        out = teacher.decode_head(feats)
    head_mod = teacher.decode_head
    logits = out if head == 'dual' else (out, )
    h, w = views.shape[-2:]
    if fusion_upsample is not None:
        h, w = (min(h, 2 * logits[0].shape[-2]),
                min(w, 2 * logits[0].shape[-1]))
    z = [F.interpolate(x.double(), size=(h, w), mode='bilinear',
                       align_corners=bool(head_mod.align_corners))
         for x in logits]
    if head == 'single':
        p = torch.softmax(z[0], dim=1)
    elif head_mod.fuse_mode == 'prob':  # (softmax + w softmax) / (1 + w)
        wt = head_mod.fuse_weight
        p = (torch.softmax(z[0], 1) + wt * torch.softmax(z[1], 1)) / (1 + wt)
    else:
        p = torch.softmax(z[0] + head_mod.fuse_weight * z[1], dim=1)
    expected = p.mean(dim=(0, 2, 3))
    assert torch.allclose(prior.double(), expected, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------
# item 10: peak confidence m*_c over all pixels (paper) or argmax pixels
# ----------------------------------------------------------------------------


def _thresholds_by_hand(probs, prior, zeta, beta, over_argmax):
    """theta_{c,n} = zeta (1 - exp(-chi_c / beta)) m*_{c,n}, loops in
    float64; m* over all pixels or over those whose argmax is c."""
    p = probs.double().numpy()
    n_maps, n_cls = p.shape[:2]
    arg = p.argmax(axis=1)
    theta = np.zeros((n_maps, n_cls))
    for n in range(n_maps):
        for c in range(n_cls):
            vals = p[n, c][arg[n] == c] if over_argmax else p[n, c].ravel()
            peak = vals.max() if vals.size else 0.0
            theta[n, c] = zeta * (1 - np.exp(-prior[c] / beta)) * peak
    return theta


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('peak', ['all', 'argmax'])
def test_peak_confidence_modes(peak, channels_last):
    torch.manual_seed(0)
    num_classes = 5
    logits = torch.randn(3, num_classes, 6, 7) * 2
    logits[:, 4] -= 6  # class 4 is (almost) never the argmax
    probs = torch.softmax(logits, dim=1)
    if channels_last:
        probs = probs.contiguous(memory_format=torch.channels_last)
    labeler = MODELS.build(
        dict(type='AdaptivePseudoLabeler', num_classes=num_classes,
             zeta=0.75, beta=0.05, peak=peak))
    labeler.update_prior(probs)
    prior = labeler.class_prior.double().numpy()
    labels, conf, theta = labeler(probs)
    expected = _thresholds_by_hand(probs, prior, 0.75, 0.05,
                                   peak == 'argmax')
    np.testing.assert_allclose(theta.double().numpy(), expected, atol=1e-6)
    # Eq. 5 with these thresholds
    p = probs.double()
    best, arg = p.max(dim=1)
    th = torch.from_numpy(expected).gather(1, arg.flatten(1)).view_as(best)
    ref = torch.where(best > th, arg, torch.full_like(arg, 255))
    assert torch.equal(labels, ref)
    if peak == 'argmax':  # the modes differ on this batch
        assert not np.allclose(expected, _thresholds_by_hand(
            probs, prior, 0.75, 0.05, False))


def test_peak_mode_is_checked():
    with pytest.raises(ValueError, match='peak'):
        MODELS.build(dict(type='AdaptivePseudoLabeler', num_classes=3,
                          peak='max'))


# ----------------------------------------------------------------------------
# item 2: class statistics of the sampler from probabilities, any head
# ----------------------------------------------------------------------------


def _class_stats_tool():
    path = osp.join(ROOT, 'tools', 'compute_class_stats.py')
    spec = importlib.util.spec_from_file_location('compute_class_stats', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.mark.parametrize('head', ['single', 'dual'])
def test_class_stats_soft_are_mean_probabilities(head):
    """--mode soft: the mean class probability of the model's prediction,
    for a dual head (fused prediction (softmax(z_p) + w softmax(z_a)) /
    (1 + w)) as for a single head (softmax)."""
    tool = _class_stats_tool()
    model = build_uda(head=head, seed=2)
    model.eval()
    batch = make_batch(n=1, target=False)
    data = dict(inputs=batch['inputs'], data_samples=batch['data_samples'])
    stat = tool.image_class_stats(model, copy.deepcopy(data), 'soft')

    seg = model.segmentor
    with torch.no_grad():
        x = model.data_preprocessor(copy.deepcopy(data), False)['inputs']
        out = seg.decode_head(seg.extract_feat(x))
    dh = seg.decode_head
    logits = out if head == 'dual' else (out, )
    z = [F.interpolate(v.double(), size=x.shape[-2:], mode='bilinear',
                       align_corners=dh.align_corners) for v in logits]
    if head == 'single':
        p = torch.softmax(z[0], dim=1)
    elif dh.fuse_mode == 'prob':
        wt = dh.fuse_weight
        p = (torch.softmax(z[0], 1) + wt * torch.softmax(z[1], 1)) / (1 + wt)
    else:
        p = torch.softmax(z[0] + dh.fuse_weight * z[1], dim=1)
    expected = p.mean(dim=(0, 2, 3))
    assert stat.shape == expected.shape
    assert torch.allclose(stat, expected, atol=1e-5, rtol=0)
    assert abs(float(stat.sum()) - 1) < 1e-6
    # count mode: the argmax of the same prediction
    count = tool.image_class_stats(model, copy.deepcopy(data), 'count')
    pred = p.argmax(dim=1).flatten()
    assert torch.equal(count, torch.bincount(
        pred, minlength=p.shape[1]).double())
