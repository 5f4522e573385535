# Copyright (c) mmseg_uda contributors. All rights reserved.
"""SAC inside UDASegmentor: ABN target BN statistics, frozen BN statistics,
one self-training step (pseudo labels, class prior, determinism) and MR +
SAC together."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import (build_optim, build_uda, make_batch, sac_cfg, set_iter,
                      snapshot, symmetric_kl, upsample)
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg_uda.engine.hooks import EMATeacherHook
from mmseg_uda.models.uda.student_outputs import (HeadOutputs, forward_heads,
                                                  fused_probabilities)

pytestmark = pytest.mark.usefixtures('uda_env')

MR = dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1)
TEACHER = dict(momentum=0.01, interval=3)


def _split(model, state):
    """(parameters, BN running statistics, BN counters) of the student."""
    params = {'segmentor.' + n for n, _ in model.segmentor.named_parameters()}
    stats, counters = set(), set()
    for name, m in model.segmentor.named_modules():
        if isinstance(m, _BatchNorm):
            stats |= {f'segmentor.{name}.running_mean',
                      f'segmentor.{name}.running_var'}
            counters.add(f'segmentor.{name}.num_batches_tracked')
    assert params and stats and params | stats | counters >= {
        k for k in state if k.startswith('segmentor.')}
    return params, stats, counters


# ----------------------------------------------------------------------------
# ABN: target images through BN, no loss
# ----------------------------------------------------------------------------


def test_observe_target_bn_stats_changes_statistics_only():
    model = build_uda(update_target_bn_stats=True)
    data = model.data_preprocessor(make_batch(), True)
    before = snapshot(model)
    model.observe_target_bn_stats(data['target_inputs'])
    after = snapshot(model)
    params, stats, counters = _split(model, before)
    assert all(torch.equal(before[k], after[k]) for k in params)
    assert all(not torch.equal(before[k], after[k]) for k in stats)
    assert all(int(after[k]) == int(before[k]) + 1 for k in counters)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize('head', ['aspp', 'fcn'])
def test_abn_target_pass_reaches_head_bn(head):
    """The ABN target pass goes through the decode (and auxiliary) heads:
    every BN layer of the heads updates its running mean with the target
    batch, (1 - m) old + m mean(input)."""
    model = build_uda(head=head, update_target_bn_stats=True)
    data = model.data_preprocessor(make_batch(), True)
    heads = [model.segmentor.decode_head]
    if model.segmentor.with_auxiliary_head:
        heads.append(model.segmentor.auxiliary_head)
    bns = [m for h in heads for m in h.modules() if isinstance(m, _BatchNorm)]
    assert bns
    seen, old = {}, {}
    hooks = []
    for bn in bns:
        old[bn] = bn.running_mean.clone()
        hooks.append(bn.register_forward_pre_hook(
            lambda m, inp: seen.__setitem__(m, inp[0].detach().clone())))
    model.observe_target_bn_stats(data['target_inputs'])
    for h in hooks:
        h.remove()
    assert set(seen) == set(bns)
    for bn in bns:
        m = bn.momentum
        expected = (1 - m) * old[bn] + m * seen[bn].mean(dim=(0, 2, 3))
        torch.testing.assert_close(bn.running_mean, expected)


def test_abn_train_step_sees_both_domains():
    """train_step with update_target_bn_stats and lr 0: no weight moves; the
    BN statistics are those of the source forward followed by a target
    forward."""
    model = build_uda(update_target_bn_stats=True)
    ow = build_optim(model, seg_lr=0., seg_momentum=0., weight_decay=0.)
    batch = make_batch()
    ref = copy.deepcopy(model)
    source_only = build_uda()
    source_only.load_state_dict(model.state_dict(), strict=False)
    before = snapshot(model)
    logs = model.train_step(batch, ow)
    source_only.train_step(
        batch,
        build_optim(source_only, seg_lr=0., seg_momentum=0., weight_decay=0.))
    after = snapshot(model)
    params, stats, counters = _split(model, before)
    assert 'src.decode.loss_ce' in logs
    assert all(torch.equal(before[k], after[k]) for k in params)
    assert all(int(after[k]) == int(before[k]) + 2 for k in counters)

    data = ref.data_preprocessor(batch, True)
    with torch.no_grad():
        forward_heads(ref.segmentor, data['inputs'])
        forward_heads(ref.segmentor, data['target_inputs'])
    expected = snapshot(ref)
    for k in stats:
        torch.testing.assert_close(after[k], expected[k], msg=k)
    # without the target pass the statistics are those of the source only
    src_state = snapshot(source_only)
    assert all(not torch.equal(src_state[k], after[k]) for k in stats)


def test_freeze_bn_stats_trains_affine_parameters_only():
    model = build_uda(freeze_bn_stats=True)
    model.train()
    bns = [m for m in model.segmentor.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    assert model.segmentor.decode_head.training
    ow = build_optim(model)
    before = snapshot(model)
    model.train_step(make_batch(), ow)
    after = snapshot(model)
    params, stats, counters = _split(model, before)
    assert all(torch.equal(before[k], after[k]) for k in stats | counters)
    bn_affine = {
        f'segmentor.{n}.{p}'
        for n, m in model.segmentor.named_modules()
        if isinstance(m, _BatchNorm) for p in ('weight', 'bias')
    }
    assert bn_affine <= params
    assert all(not torch.equal(before[k], after[k]) for k in bn_affine)
    assert all(not torch.equal(before[k], after[k]) for k in params)
    # eval() and train() again keep the BN layers in eval mode
    model.eval()
    model.train()
    assert all(not m.training for m in bns)


# ----------------------------------------------------------------------------
# the SAC step
# ----------------------------------------------------------------------------


def _sac_model(**kwargs):
    model = build_uda(
        teacher=TEACHER, self_training=sac_cfg(), freeze_bn_stats=True,
        **kwargs)
    # the hook's start of training: teacher <- student
    EMATeacherHook().before_train(SimpleNamespace(model=model))
    return model


def _focal_reference(logits, labels, confidence, prior, power=3.0):
    """SAC Eq. 6 in float64: the mean over all pixels (ignored ones count
    0) of ``-m (1 - chi_c)^lambda log softmax(z)_c`` at the pseudo label
    ``c``."""
    logp = torch.log_softmax(logits.double(), 1)
    valid = labels != 255
    c = torch.where(valid, labels, torch.zeros_like(labels))
    weight = confidence.double() * (1 - prior.double()[c])**power
    per_pixel = -weight * logp.gather(1, c[:, None])[:, 0]
    return float(torch.where(valid, per_pixel, 0 * per_pixel).mean())


def _sac_loss_reference(model, batch, it, weight=5.0, aux_weight=0.5):
    """``(loss_sac, loss_sac_aux)`` of one SAC step of ``model`` (a copy
    taken before the step): the student views are the iteration's views
    with photometric noise in pixel space; both heads' logits, upsampled to
    the views (corner-aligned), against the teacher's pseudo labels."""
    st, dp = model.self_training, model.data_preprocessor
    tgt = dp(batch, True)['target_inputs']
    with torch.no_grad():
        noisy, targets, _ = model.make_pseudo_targets(tgt, it)
        # the same views drawn again and noised by hand: the student sees
        # noisy views, not clean ones
        g = st.generator(it)
        views, _, _ = st.views(tgt, g)
        mean, std = dp.mean.view(1, 3, 1, 1), dp.std.view(1, 3, 1, 1)
        pixels = (views * std + mean).clamp(0, 255)
        by_hand = (st.noise(pixels, g) - mean) / std
        torch.testing.assert_close(noisy, by_hand, atol=1e-4, rtol=1e-5)
        primary, aux = model.segmentor.decode_head(
            model.segmentor.extract_feat(by_hand))
    args = (targets['labels'], targets['confidence'], targets['class_prior'])
    return (weight * _focal_reference(upsample(primary), *args),
            weight * aux_weight * _focal_reference(upsample(aux), *args))


def _confident_sac_model():
    """A SAC model whose student (and teacher copy) has confident logits
    that vary over the image: BN statistics of the target batch and a
    sharpened head. A fresh tiny student's logits hardly vary spatially, so
    a misplaced pixel or view would not change the loss."""
    model = build_uda(
        teacher=TEACHER, self_training=sac_cfg(), freeze_bn_stats=True)
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    bns = [m for m in model.segmentor.modules() if isinstance(m, _BatchNorm)]
    with torch.no_grad():
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative: the statistics of this batch
            m.train()
        model.segmentor.extract_feat(tgt)
        for m in bns:
            m.momentum = 0.1
            m.eval()
        for p in model.segmentor.decode_head.parameters():
            p.mul_(10)
    EMATeacherHook().before_train(SimpleNamespace(model=model))
    return model


def test_sac_train_step():
    model = _confident_sac_model()
    ow = build_optim(model)
    assert list(ow.keys()) == ['segmentor']
    labeler = model.self_training.pseudo_labeler
    prior_before = labeler.class_prior.clone()
    teacher_before = snapshot(model.teacher)
    before = snapshot(model)
    ref = copy.deepcopy(model)
    set_iter(5)
    logs = model.train_step(make_batch(), ow)
    after = snapshot(model)
    # the loss values, recomputed outside train_step (Eq. 6 in float64)
    sac, sac_aux = _sac_loss_reference(ref, make_batch(), 5)
    torch.testing.assert_close(float(logs['tgt.loss_sac']), sac, rtol=1e-5,
                               atol=1e-8)
    torch.testing.assert_close(float(logs['tgt.loss_sac_aux']), sac_aux,
                               rtol=1e-5, atol=1e-8)

    assert {
        'src.decode.loss_ce', 'tgt.loss_sac', 'tgt.loss_sac_aux',
        'pl_coverage', 'pl_mean_threshold', 'pl_mean_confidence'
    } <= set(logs)
    assert 0 < float(logs['pl_coverage']) <= 1
    assert 0 < float(logs['pl_mean_confidence']) <= 1
    # the student trained, the teacher did not (the hook updates it)
    params = ['segmentor.' + n for n, _ in model.segmentor.named_parameters()]
    assert all(not torch.equal(before[k], after[k]) for k in params)
    for k, v in snapshot(model.teacher).items():
        assert torch.equal(v, teacher_before[k]), k

    # the moving class prior was updated and is saved in checkpoints
    prior = labeler.class_prior
    assert not torch.equal(prior, prior_before)
    torch.testing.assert_close(prior.sum(), torch.tensor(1.))
    assert int(labeler.num_updates) == 1
    state = model.state_dict()
    key = 'self_training.pseudo_labeler.class_prior'
    assert torch.equal(state[key], prior)
    assert int(state['self_training.pseudo_labeler.num_updates']) == 1
    resumed = build_uda(
        seed=1, teacher=TEACHER, self_training=sac_cfg(),
        freeze_bn_stats=True)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.self_training.pseudo_labeler.class_prior,
                       prior)


def test_sac_views_and_pseudo_labels_are_deterministic():
    model = _sac_model()
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']

    def targets(it, seed=0):
        m = copy.deepcopy(model)  # same prior state for every draw
        m.self_training.seed = seed
        views, tg, logs = m.make_pseudo_targets(tgt, it)
        return views, tg

    v1, t1 = targets(7)
    v2, t2 = targets(7)
    v3, t3 = targets(8)
    v4, _ = targets(7, seed=1)
    assert not torch.equal(v1, v4)
    assert v1.shape == (2 * 3, 3, 32, 64)
    assert torch.equal(v1, v2)
    for k in ('labels', 'confidence', 'class_prior'):
        assert torch.equal(t1[k], t2[k]), k
    assert not torch.equal(v1, v3)
    assert not torch.equal(t1['confidence'], t3['confidence'])

    # a whole step: same iteration and state -> identical result
    batch = make_batch()
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    set_iter(7)
    logs_a = a.train_step(batch, build_optim(a))
    logs_b = b.train_step(batch, build_optim(b))
    assert logs_a.keys() == logs_b.keys()
    assert all(torch.equal(torch.as_tensor(logs_a[k]),
                           torch.as_tensor(logs_b[k])) for k in logs_a)
    state_a, state_b = snapshot(a), snapshot(b)
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    # another iteration draws other views
    c = copy.deepcopy(model)
    set_iter(8)
    logs_c = c.train_step(batch, build_optim(c))
    assert float(logs_c['tgt.loss_sac']) != float(logs_a['tgt.loss_sac'])


def _bilinear(maps, fy, fx):
    """Bilinear samples of ``maps`` (C, h, w) at fractional pixel indices
    ``fy``, ``fx`` (any equal shapes), indices clamped to the border pixel
    centres."""
    h, w = maps.shape[-2:]
    fy, fx = np.clip(fy, 0, h - 1), np.clip(fx, 0, w - 1)
    y0, x0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = fy - y0, fx - x0
    return (maps[:, y0, x0] * (1 - wy) * (1 - wx) +
            maps[:, y0, x1] * (1 - wy) * wx + maps[:, y1, x0] * wy *
            (1 - wx) + maps[:, y1, x1] * wy * wx)


def _fusion_reference(probs, affines, view_size):
    """SAC's multi-view fusion (Sec. 3.3) from its definition, in float64
    numpy, view by view: every canvas pixel averages the views whose extent
    covers it (sampled through the inverse view affine), then every view
    samples the fused canvas through its affine; maps of the views' size
    are pixel-centre samples, coarser maps corner-aligned samples
    (``x = s (2 j / (m - 1) - 1)``, ``s = (n - 1) / n``) that are finally
    upsampled corner-aligned to the views."""
    probs = probs.double().numpy()
    affines = affines.double().numpy()
    B, V = affines.shape[:2]
    C, m_h, m_w = probs.shape[1:]
    n_h, n_w = view_size
    coarse = (m_h, m_w) != (n_h, n_w)
    s = np.array([(n_w - 1) / n_w, (n_h - 1) / n_h]) if coarse else None

    def coords(m):  # normalised coordinate of each map pixel, per axis
        j = np.arange(m)
        return 2 * j / (m - 1) - 1 if coarse else (2 * j + 1) / m - 1

    def index(x, m):  # fractional map pixel index of a coordinate
        return (x + 1) * (m - 1) / 2 if coarse else ((x + 1) * m - 1) / 2

    gy, gx = np.meshgrid(coords(m_h), coords(m_w), indexing='ij')
    pts = np.stack([gx, gy], -1)  # in map units: x / s when coarse
    if coarse:
        pts = pts * s
    out = []
    for b in range(B):
        total, count = np.zeros((C, m_h, m_w)), np.zeros((m_h, m_w))
        for v in range(V):
            lin, t = affines[b, v, :, :2], affines[b, v, :, 2]
            x = (pts - t) @ np.linalg.inv(lin).T  # canvas -> view coords
            u = x / s if coarse else x
            cov = (np.abs(u) <= 1 + 1e-5).all(-1)
            val = _bilinear(probs[b * V + v], index(u[..., 1], m_h),
                            index(u[..., 0], m_w))
            total += val * cov
            count += cov
        canvas = total / np.maximum(count, 1)
        for v in range(V):
            lin, t = affines[b, v, :, :2], affines[b, v, :, 2]
            c = pts @ lin.T + t  # view -> canvas coords
            u = c / s if coarse else c
            tgt = _bilinear(canvas, index(u[..., 1], m_h),
                            index(u[..., 0], m_w))
            if coarse:  # corner-aligned upsampling to the view size
                fy = np.arange(n_h) * (m_h - 1) / (n_h - 1)
                fx = np.arange(n_w) * (m_w - 1) / (n_w - 1)
                fy, fx = np.meshgrid(fy, fx, indexing='ij')
                tgt = _bilinear(tgt, fy, fx)
            out.append(tgt)
    return torch.from_numpy(np.stack(out))


def test_sac_fusion_resolution():
    """The teacher maps are fused at twice the logits' resolution by default
    (corner-aligned with the views, then upsampled to them), at the view
    size with ``fusion_upsample=None`` (the release); both against an
    independent reference of the fusion."""
    model = _sac_model()
    st, teacher = model.self_training, model.teacher.module
    assert st.fusion_upsample == 2.0
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    views, affines, _ = st.views(tgt, st.generator(3))
    with torch.no_grad():
        out = forward_heads(teacher, views)
    size = tuple(views.shape[-2:])
    logit_size = tuple(out.primary.shape[-2:])
    assert st.fusion_size(logit_size, size) == tuple(
        2 * n for n in logit_size)
    assert st.fusion_size((100, 200), size) == size  # at most the views
    fused = st.fuse_teacher(teacher, out, affines, size)
    assert fused.shape == (views.shape[0], 4) + size
    torch.testing.assert_close(fused.sum(1), torch.ones(fused[:, 0].shape))
    st.fusion_upsample = None
    full = st.fuse_teacher(teacher, out, affines, size)
    # the two resolutions agree on most pixels' classes
    assert (full.argmax(1) == fused.argmax(1)).float().mean() > 0.8

    # both against the reference, on confident, varied logits (an untrained
    # teacher's maps are nearly uniform: a wrong fusion would hardly change
    # them); the views are crops and flips, not all the full image
    assert not torch.allclose(affines[:, 1:], affines[:, :1])
    g = torch.Generator().manual_seed(0)
    sharp = HeadOutputs(decode=tuple(
        4 * torch.randn(out.primary.shape, generator=g) for _ in range(2)))
    for upsample_by in (2.0, None):
        st.fusion_upsample = upsample_by
        fsize = st.fusion_size(logit_size, size)
        ref = _fusion_reference(fused_probabilities(teacher, sharp, fsize),
                                affines, size)
        torch.testing.assert_close(
            st.fuse_teacher(teacher, sharp, affines, size).double(), ref,
            atol=2e-5, rtol=0, msg=f'fusion_upsample={upsample_by}')


def test_sac_student_noise_in_pixel_space():
    """The student views are noised in pixel space (de-normalised, clamped
    to [0, 255], normalised again) with the iteration's generator."""
    model = _sac_model()
    st, dp = model.self_training, model.data_preprocessor
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    views, _, _ = st.views(tgt, st.generator(3))
    out = st.noisy_views(views, dp, torch.Generator().manual_seed(5))
    mean, std = dp.mean.view(1, 3, 1, 1), dp.std.view(1, 3, 1, 1)
    pixels = (views * std + mean).clamp(0, 255)
    ref = (st.noise(pixels, torch.Generator().manual_seed(5)) - mean) / std
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-5)
    assert not torch.allclose(out, views)
    # pixels outside [0, 255] (e.g. resampling overshoot) are clamped first
    far = views.clone()
    far[..., :4, :] = -10
    far[..., -4:, :] = 10
    assert ((far * std + mean) > 255).any() and ((far * std + mean) < 0).any()
    out = st.noisy_views(far, dp, torch.Generator().manual_seed(5))
    pixels = (far * std + mean).clamp(0, 255)
    ref = (st.noise(pixels, torch.Generator().manual_seed(5)) - mean) / std
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-5)


def test_sac_targets_carry_the_view_geometry():
    """make_targets returns the view-to-image affines its views were
    sampled with (with the release's zoomed canvas, not the view-to-canvas
    ones): the clean target images warped through them are the teacher's
    views of the step."""
    views_cfg = dict(type='MultiCropViews', num_views=3,
                     scale_range=(0.5, 1.0), flip_prob=0.5,
                     base_scale_range=(1.05, 1.1))
    model = build_uda(teacher=TEACHER, self_training=sac_cfg(views=views_cfg),
                      freeze_bn_stats=True)
    st = model.self_training
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    _, targets, _ = model.make_pseudo_targets(tgt, 3)
    views, canvas_affines, _ = st.views(tgt, st.generator(3))
    to_image = targets['view_to_image']
    assert to_image.shape == (tgt.shape[0], 3, 2, 3)
    assert not torch.allclose(to_image, canvas_affines, atol=1e-3)
    grid = F.affine_grid(to_image.flatten(0, 1),
                         [views.shape[0], 3, *views.shape[-2:]],
                         align_corners=False)
    by_hand = F.grid_sample(tgt.repeat_interleave(3, 0), grid,
                            mode='bilinear', padding_mode='border',
                            align_corners=False)
    torch.testing.assert_close(by_hand, views, atol=1e-5, rtol=0)


def test_sac_noise_needs_the_unit_range_interface():
    """The student noise has one interface, apply_unit on [0, 1] images: a
    noise module without it is refused when the model is built."""
    with pytest.raises(TypeError, match='has no apply_unit'):
        build_uda(teacher=TEACHER, self_training=sac_cfg(
            noise=dict(type='MultiCropViews')))


def test_mr_and_sac_together():
    model = _sac_model(memory_reg=MR)
    ow = build_optim(model)
    tgt = model.data_preprocessor(make_batch(), True)['target_inputs']
    ref = copy.deepcopy(model)
    set_iter(2)
    logs = model.train_step(make_batch(), ow)
    assert {'tgt.loss_mr', 'tgt.loss_sac', 'tgt.loss_sac_aux',
            'pl_coverage'} <= set(logs)
    total = sum(float(v) for k, v in logs.items()
                if k.startswith(('src.', 'tgt.')) and 'loss' in k)
    torch.testing.assert_close(float(logs['loss']), total, rtol=1e-5,
                               atol=1e-6)
    # the MR term is computed on the student's (noisy) target views
    with torch.no_grad():
        views, _, _ = ref.make_pseudo_targets(tgt, 2)
        primary, aux = ref.segmentor.decode_head(
            ref.segmentor.extract_feat(views))
    torch.testing.assert_close(
        float(logs['tgt.loss_mr']),
        0.1 * symmetric_kl(upsample(primary), upsample(aux)).item(),
        rtol=1e-5, atol=1e-8)
