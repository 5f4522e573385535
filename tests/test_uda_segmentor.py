# Copyright (c) mmseg_uda contributors. All rights reserved.
"""UDASegmentor.train_step (MRNet / AdaptSegNet phases), the optimizer
constructor, inference through the student and configuration errors.

The expected values are recomputed independently on a copy of the model
taken before the step (the tiny heads have no dropout, so the forward pass
is reproducible).
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import (H, NUM_CLASSES, W, adversary_cfg, build_optim,
                      build_uda, make_batch, optim_cfg, sac_cfg, set_iter,
                      snapshot, symmetric_kl, upsample)
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmseg_uda.engine.optimizers.uda_optim_wrapper_constructor import \
    UDAOptimWrapperConstructor
from mmseg_uda.models.uda.student_outputs import forward_heads

pytestmark = pytest.mark.usefixtures('uda_env')

MR = dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1)


def _changed(before, after, prefix):
    keys = [k for k in before if k.startswith(prefix)]
    assert keys, prefix
    return {k: not torch.equal(before[k], after[k]) for k in keys}


def _target_logits(model, data):
    """Upsampled student logits of the target batch (independent of
    forward_heads: backbone + heads called one by one)."""
    seg = model.segmentor
    feats = seg.extract_feat(data['target_inputs'])
    out = seg.decode_head(feats)
    if isinstance(out, tuple):
        primary, aux = out
    else:
        primary, aux = out, seg.auxiliary_head(feats)
    return upsample(primary), upsample(aux)


def _source_logits(model, data):
    seg = model.segmentor
    primary, aux = seg.decode_head(seg.extract_feat(data['inputs']))
    return upsample(primary), upsample(aux)


class GradRecorder:
    """Records the ``.grad`` of modules' parameters right before each
    optimizer of an ``OptimWrapperDict`` steps."""

    def __init__(self, optim_wrapper, modules):
        self.modules = modules
        self.records = {}
        for name, wrapper in optim_wrapper.items():
            self._wrap(name, wrapper.optimizer)

    def _wrap(self, name, optimizer):
        step = optimizer.step

        def recording_step(*args, **kwargs):
            self.records[name] = {
                mod: {
                    p_name: None if p.grad is None else p.grad.clone()
                    for p_name, p in module.named_parameters()
                }
                for mod, module in self.modules.items()
            }
            return step(*args, **kwargs)

        optimizer.step = recording_step


def _assert_grads_close(actual, expected, names):
    for name, exp in zip(names, expected):
        got = actual[name]
        assert got is not None, name
        scale = exp.abs().max().item()
        torch.testing.assert_close(
            got, exp, rtol=1e-3, atol=1e-5 * scale + 1e-12, msg=name)


# ----------------------------------------------------------------------------
# the MRNet step
# ----------------------------------------------------------------------------


def test_mrnet_step_updates_segmentor_and_each_discriminator():
    model = build_uda(adversary=adversary_cfg(), memory_reg=MR)
    ow = build_optim(model)
    before = snapshot(model)
    logs = model.train_step(make_batch(), ow)
    after = snapshot(model)

    seg = _changed(before, after, 'segmentor.')
    params = {'segmentor.' + n for n, _ in model.segmentor.named_parameters()}
    assert all(seg[k] for k in params), [k for k in params if not seg[k]]
    for head in ('primary', 'aux'):
        disc = _changed(before, after, f'adversary.discriminators.{head}.')
        assert all(disc.values()), head
    assert {
        'loss', 'src.decode.loss_ce', 'src.decode.loss_ce_aux',
        'tgt.loss_adv_primary', 'tgt.loss_adv_aux', 'tgt.loss_mr',
        'disc_primary.loss_d_src', 'disc_primary.loss_d_tgt',
        'disc_aux.loss_d_src', 'disc_aux.loss_d_tgt'
    } <= set(logs)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in logs.values())

    # discriminator lr 0: the discriminators stay, the segmentor still trains
    model = build_uda(adversary=adversary_cfg(), memory_reg=MR)
    ow = build_optim(model, disc_lr=0.)
    before = snapshot(model)
    model.train_step(make_batch(), ow)
    after = snapshot(model)
    assert not any(_changed(before, after, 'adversary.').values())
    assert any(_changed(before, after, 'segmentor.').values())


@pytest.mark.parametrize('ignore_all', [False, True])
def test_gradient_routing(ignore_all):
    """Generator term: discriminators frozen, the segmentor gets the
    adversarial gradient. Discriminator step: its gradient is exactly that
    of its own loss on detached predictions."""
    model = build_uda(adversary=adversary_cfg(weights=(1.0, 0.5)))
    ow = build_optim(model)
    batch = make_batch(ignore_all=ignore_all)
    ref = copy.deepcopy(model)
    discs = model.adversary.discriminators
    rec = GradRecorder(
        ow, dict(segmentor=model.segmentor, primary=discs.primary,
                 aux=discs.aux))
    logs = model.train_step(batch, ow)
    assert list(rec.records) == ['segmentor', 'disc_primary', 'disc_aux']

    # 1. at the segmentor's step no discriminator holds any gradient
    at_seg = rec.records['segmentor']
    assert all(g is None for g in at_seg['primary'].values())
    assert all(g is None for g in at_seg['aux'].values())

    data = ref.data_preprocessor(batch, True)
    src_p, src_a = _source_logits(ref, data)
    tgt_p, tgt_a = _target_logits(ref, data)
    d_ref = ref.adversary.discriminators

    # 2. with every source pixel ignored the source CE is zero and the
    # segmentor's gradient is exactly the adversarial one
    if ignore_all:
        assert float(logs['src.decode.loss_ce']) == 0.
        seg_params = list(ref.segmentor.named_parameters())
        d_p = d_ref.primary(torch.softmax(tgt_p, 1))
        d_a = d_ref.aux(torch.softmax(tgt_a, 1))
        # fool the discriminators: target maps labelled "source" (1)
        adv = 1.0 * F.binary_cross_entropy_with_logits(
            d_p, torch.ones_like(d_p)) + \
            0.5 * F.binary_cross_entropy_with_logits(d_a, torch.ones_like(d_a))
        grads = torch.autograd.grad(
            adv, [p for _, p in seg_params], allow_unused=True)
        names = [n for n, _ in seg_params]
        used = [(n, g) for n, g in zip(names, grads) if g is not None]
        assert len(used) == len(names)
        _assert_grads_close(at_seg['segmentor'], [g for _, g in used],
                            [n for n, _ in used])
        head_grad = at_seg['segmentor']['decode_head.conv_seg.convs.0.weight']
        assert head_grad.abs().sum() > 0
        torch.testing.assert_close(
            float(logs['tgt.loss_adv_primary']) +
            float(logs['tgt.loss_adv_aux']), adv.item(), rtol=1e-5,
            atol=1e-7)

    # 3. each discriminator's gradient is that of its own loss only
    for head, src, tgt in (('primary', src_p, tgt_p), ('aux', src_a, tgt_a)):
        at_d = rec.records[f'disc_{head}']
        assert all(g is None for g in at_d['segmentor'].values())
        disc = d_ref[head]
        real = torch.softmax(src.detach(), 1)
        fake = torch.softmax(tgt.detach(), 1)
        d_real, d_fake = disc(real), disc(fake)
        loss = 0.5 * F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)) + \
            0.5 * F.binary_cross_entropy_with_logits(
                d_fake, torch.zeros_like(d_fake))
        torch.testing.assert_close(
            float(logs[f'disc_{head}.loss']), loss.item(), rtol=1e-5,
            atol=1e-7)
        names = [n for n, _ in disc.named_parameters()]
        expected = torch.autograd.grad(loss, list(disc.parameters()))
        _assert_grads_close(at_d[head], expected, names)
        # the other discriminator has no gradient at this step
        other = 'aux' if head == 'primary' else 'primary'
        assert all(g is None for g in at_d[other].values())


def test_memory_reg_starts_at_start_iter():
    model = build_uda(
        adversary=adversary_cfg(), memory_reg=MR, memory_reg_start_iter=3)
    ow = build_optim(model)
    batch = make_batch()
    for it in (0, 2):
        set_iter(it)
        assert 'tgt.loss_mr' not in model.train_step(batch, ow)
    set_iter(3)
    ref = copy.deepcopy(model)
    logs = model.train_step(batch, ow)
    assert 'tgt.loss_mr' in logs
    with torch.no_grad():
        tgt_p, tgt_a = _target_logits(ref, ref.data_preprocessor(batch, True))
    expected = 0.1 * symmetric_kl(tgt_p, tgt_a)
    assert expected > 0
    torch.testing.assert_close(
        float(logs['tgt.loss_mr']), expected.item(), rtol=1e-5, atol=1e-8)
    # it is part of the optimised total
    total = sum(float(v) for k, v in logs.items()
                if k.startswith(('src.', 'tgt.')) and 'loss' in k)
    torch.testing.assert_close(float(logs['loss']), total, rtol=1e-5,
                               atol=1e-6)
    set_iter(4)
    assert 'tgt.loss_mr' in model.train_step(batch, ow)


def test_memory_reg_on_labelled_batch_needs_no_target():
    model = build_uda(memory_reg=MR, memory_reg_on='labelled')
    assert not model.uses_target
    ow = build_optim(model)
    batch = make_batch(target=False)
    ref = copy.deepcopy(model)
    logs = model.train_step(batch, ow)
    with torch.no_grad():
        src_p, src_a = _source_logits(ref, ref.data_preprocessor(batch, True))
    torch.testing.assert_close(
        float(logs['tgt.loss_mr']), 0.1 * symmetric_kl(src_p, src_a).item(),
        rtol=1e-5, atol=1e-8)


# ----------------------------------------------------------------------------
# stock mmseg models with an auxiliary_head
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('head', ['fcn', 'aspp'])
def test_stock_model_with_auxiliary_head(head):
    model = build_uda(head=head, adversary=adversary_cfg(), memory_reg=MR)
    ow = build_optim(model)
    batch = make_batch()
    ref = copy.deepcopy(model)
    before = snapshot(model)
    logs = model.train_step(batch, ow)
    after = snapshot(model)
    assert {
        'src.decode.loss_ce', 'src.aux.loss_ce', 'tgt.loss_adv_primary',
        'tgt.loss_adv_aux', 'tgt.loss_mr', 'disc_aux.loss_d_src'
    } <= set(logs)
    # the second classifier is the auxiliary_head: MR between the heads
    with torch.no_grad():
        tgt_p, tgt_a = _target_logits(ref, ref.data_preprocessor(batch, True))
    torch.testing.assert_close(
        float(logs['tgt.loss_mr']), 0.1 * symmetric_kl(tgt_p, tgt_a).item(),
        rtol=1e-5, atol=1e-8)
    aux_params = {
        'segmentor.auxiliary_head.' + n
        for n, _ in model.segmentor.auxiliary_head.named_parameters()
    }
    changed = _changed(before, after, 'segmentor.auxiliary_head.')
    assert aux_params and all(changed[k] for k in aux_params)
    assert all(_changed(before, after, 'adversary.discriminators.aux.')
               .values())
    # and the student still predicts through the stock head
    model.eval()
    out = model.val_step(make_batch(target=False))
    assert out[0].pred_sem_seg.data.shape == (1, H, W)


# ----------------------------------------------------------------------------
# inference: the student, with fused heads
# ----------------------------------------------------------------------------


def test_val_and_test_use_the_fused_student():
    model = build_uda(teacher=dict(momentum=0.01, interval=3))
    # make the student differ from the teacher (and predict several classes)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.segmentor.decode_head.parameters():
            p.copy_(torch.randn(p.shape, generator=g) if p.dim() > 1 else 0)
    model.eval()
    # predictions are written into the data samples: one batch per call
    val = model.val_step(make_batch(target=False, seed=3))
    test = model.test_step(make_batch(target=False, seed=3))

    data = model.data_preprocessor(make_batch(target=False, seed=3), False)
    samples = data['data_samples']
    with torch.no_grad():
        seg = model.segmentor
        primary, aux = seg.decode_head(seg.extract_feat(data['inputs']))
        fused = torch.softmax(upsample(primary), 1) + \
            0.5 * torch.softmax(upsample(aux), 1)
        teacher = model.teacher.module.predict(data['inputs'],
                                               copy.deepcopy(samples))
        direct = model(data['inputs'], copy.deepcopy(samples),
                       mode='predict')
    expected = fused.argmax(1)
    assert expected.unique().numel() > 1
    for outs in (val, test, direct):
        assert len(outs) == 2
        pred = torch.stack([o.pred_sem_seg.data[0] for o in outs])
        assert torch.equal(pred, expected)
        logits = torch.stack([o.seg_logits.data for o in outs])
        torch.testing.assert_close(logits, fused)
    teacher_pred = torch.stack([o.pred_sem_seg.data[0] for o in teacher])
    assert not torch.equal(teacher_pred, expected)
    with pytest.raises(RuntimeError, match='train_step'):
        model(data['inputs'], data['data_samples'], mode='loss')


# ----------------------------------------------------------------------------
# UDAOptimWrapperConstructor
# ----------------------------------------------------------------------------


def _ids(params):
    return {id(p) for p in params}


def _optim_ids(wrapper):
    return {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}


def test_optim_wrapper_constructor_parts():
    model = build_uda(
        adversary=adversary_cfg(), teacher=dict(momentum=0.01, interval=3))
    ow = build_optim(model, seg_lr=0.01, disc_lr=2e-4)
    assert isinstance(ow, OptimWrapperDict)
    assert set(ow.keys()) == {'segmentor', 'disc_primary', 'disc_aux'}
    discs = model.adversary.discriminators
    assert _optim_ids(ow['segmentor']) == _ids(model.segmentor.parameters())
    assert _optim_ids(ow['disc_primary']) == _ids(discs.primary.parameters())
    assert _optim_ids(ow['disc_aux']) == _ids(discs.aux.parameters())
    assert isinstance(ow['segmentor'].optimizer, torch.optim.SGD)
    for name in ('disc_primary', 'disc_aux'):
        opt = ow[name].optimizer
        assert isinstance(opt, torch.optim.Adam)
        assert opt.param_groups[0]['lr'] == pytest.approx(2e-4)
        assert opt.param_groups[0]['betas'] == (0.9, 0.99)
    # paramwise_cfg of the part: heads at 10x
    lr_of = {id(p): g['lr'] for g in ow['segmentor'].optimizer.param_groups
             for p in g['params']}
    for name, p in model.segmentor.named_parameters():
        assert lr_of[id(p)] == pytest.approx(
            0.1 if name.startswith('decode_head') else 0.01), name
    # the teacher is in no optimizer; every trainable tensor in exactly one
    everything = [_optim_ids(w) for w in ow.values()]
    assert not any(_ids(model.teacher.parameters()) & s for s in everything)
    trainable = _ids(p for p in model.parameters() if p.requires_grad)
    assert sum(len(s) for s in everything) == len(trainable)
    assert set().union(*everything) == trainable


def test_optim_wrapper_constructor_errors():
    model = build_uda(adversary=adversary_cfg())
    seg_only = {'segmentor': optim_cfg()['segmentor']}
    with pytest.raises(KeyError, match='disc_primary'):
        UDAOptimWrapperConstructor(seg_only)(model)
    # per-part entries: the missing one is named
    per_part = dict(seg_only, disc_primary=optim_cfg()['discriminator'])
    with pytest.raises(KeyError, match='disc_aux'):
        UDAOptimWrapperConstructor(per_part)(model)
    with pytest.raises(KeyError, match='disc_typo'):
        UDAOptimWrapperConstructor(dict(optim_cfg(), disc_typo=dict()))(model)
    with pytest.raises(ValueError, match='paramwise_cfg'):
        UDAOptimWrapperConstructor(optim_cfg(), paramwise_cfg=dict())
    # a model without discriminators needs no discriminator config
    plain = build_uda()
    assert list(UDAOptimWrapperConstructor(seg_only)(plain).keys()) == [
        'segmentor'
    ]
    # the discriminators cannot share the segmentor's single wrapper
    single = OptimWrapper(
        torch.optim.SGD(model.segmentor.parameters(), lr=0.01))
    with pytest.raises(TypeError, match='UDAOptimWrapperConstructor'):
        model.train_step(make_batch(), single)


# ----------------------------------------------------------------------------
# configuration errors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('kwargs, uses, grad_passes, stats_passes', [
    (dict(), {}, 1, 0),
    (dict(adversary=adversary_cfg()), {'adversary': 'forward'}, 2, 0),
    (dict(update_target_bn_stats=True),
     {'update_target_bn_stats (ABN target pass)': 'bn_stats'}, 1, 1),
    (dict(memory_reg=MR, memory_reg_on='target'),
     {"memory_reg (memory_reg_on='target')": 'forward'}, 2, 0),
    (dict(memory_reg=MR, memory_reg_on='labelled'), {}, 1, 0),
    (dict(teacher=dict(momentum=0.01, interval=1), self_training=sac_cfg()),
     {'self_training': 'forward'}, 2, 0),
])
def test_target_uses_declared_by_the_parts(kwargs, uses, grad_passes,
                                           stats_passes):
    """Each part declares what it needs of the target images; the model's
    answers and the student passes of a step follow: one pass with
    gradients per batch that has a loss, one without for BN statistics."""
    model = build_uda(**kwargs)
    assert model.target_uses() == uses
    assert model.uses_target == bool(uses)
    assert model.target_consumers() == list(uses)
    assert model.needs_target_forward == ('forward' in uses.values())
    passes = []
    model.segmentor.backbone.register_forward_hook(
        lambda *_: passes.append(torch.is_grad_enabled()))
    model.train_step(make_batch(target=bool(uses)), build_optim(model))
    assert passes.count(True) == grad_passes
    assert passes.count(False) == stats_passes


def test_target_part_required():
    for kwargs in (dict(adversary=adversary_cfg()),
                   dict(update_target_bn_stats=True),
                   dict(memory_reg=MR, memory_reg_on='target')):
        model = build_uda(**kwargs)
        assert model.uses_target
        ow = build_optim(model)
        with pytest.raises(KeyError, match='target'):
            model.train_step(make_batch(target=False), ow)
    # source-only trains on a batch without target part
    model = build_uda()
    logs = model.train_step(make_batch(target=False), build_optim(model))
    assert 'src.decode.loss_ce' in logs


def test_constructor_errors():
    with pytest.raises(ValueError, match='teacher'):
        build_uda(self_training=sac_cfg())
    bad = adversary_cfg()
    bad['discriminators']['aux']['num_classes'] = NUM_CLASSES + 1
    with pytest.raises(ValueError, match=f"'aux'.*{NUM_CLASSES + 1}.*"
                       f'{NUM_CLASSES}'):
        build_uda(adversary=bad)
    with pytest.raises(ValueError, match='memory_reg_on'):
        build_uda(memory_reg=MR, memory_reg_on='source')
    # the discriminators get num_classes from the segmentor
    model = build_uda(adversary=adversary_cfg())
    first = model.adversary.discriminators.primary.layers[0]
    assert first.in_channels == NUM_CLASSES


def test_second_classifier_required():
    model = build_uda(head='single', memory_reg=MR)
    with pytest.raises(KeyError, match='two classifiers'):
        model.train_step(make_batch(), build_optim(model))
    model = build_uda(head='single', adversary=adversary_cfg())
    with pytest.raises(KeyError, match='aux'):
        model.train_step(make_batch(), build_optim(model))
    # one discriminator on the primary head works with a single head
    model = build_uda(
        head='single', adversary=adversary_cfg(weights=(1.0, ),
                                               heads=('primary', )))
    logs = model.train_step(make_batch(), build_optim(model))
    assert 'tgt.loss_adv_primary' in logs and 'tgt.loss_adv_aux' not in logs


def test_forward_heads_matches_the_stock_model():
    """forward_heads returns the decode and auxiliary outputs of the
    segmentor's own modules (so the adaptation losses see the real heads)."""
    model = build_uda(head='fcn')
    model.eval()
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        outs = forward_heads(model.segmentor, x)
        feats = model.segmentor.extract_feat(x)
        torch.testing.assert_close(outs.primary,
                                   model.segmentor.decode_head(feats))
        torch.testing.assert_close(outs.aux,
                                   model.segmentor.auxiliary_head(feats))
