# Copyright (c) mmseg_uda contributors. All rights reserved.
"""No silent failure: non-finite losses and gradients, the debug panel and
pseudo-label statistics, and configuration errors caught before the first
iteration.

Tiny models (see conftest) on 32x64 images; the Runner tests train two
iterations on in-memory datasets.
"""
import logging
import os.path as osp
import uuid
from datetime import timedelta
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
from conftest import (H, MEAN, NUM_CLASSES, STD, W, adversary_cfg, build_optim,
                      build_uda, make_batch, optim_cfg, sac_cfg, segmentor_cfg,
                      set_iter, snapshot)
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from torch.utils.data import Dataset

from mmseg.structures import SegDataSample
from mmseg_uda.datasets.uda_dataset import UDADataset
from mmseg_uda.engine.hooks import UDADatasetCheckHook, UDAVisualizationHook
from mmseg_uda.engine.hooks.uda_visualization_hook import render_debug_panel
from mmseg_uda.utils.nonfinite_guard import NonFiniteLossError

pytestmark = pytest.mark.usefixtures('uda_env')

CLASSES = ('road', 'traffic light', 'car', 'sky')
HEAD_W = 'decode_head.conv_seg.convs.0.weight'
PALETTE = [[10, 20, 30], [40, 50, 60], [70, 80, 90], [100, 110, 120]]


class _Records(logging.Handler):
    """Collects the messages of the current MMLogger."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


def _nan_forward(*args, **kwargs):
    return args[0].sum() * float('nan')


def _assert_unchanged(before, module, prefix=''):
    after = snapshot(module)
    for k, v in before.items():
        assert torch.equal(v, after[k]), prefix + k
        if v.is_floating_point():
            assert torch.isfinite(after[k]).all(), prefix + k


# ----------------------------------------------------------------------------
# non-finite losses
# ----------------------------------------------------------------------------


def test_nan_segmentor_loss_skips_the_update(monkeypatch):
    model = build_uda(adversary=adversary_cfg())
    ow = build_optim(model)
    head = model.segmentor.decode_head
    seg_before = snapshot(model.segmentor)  # BN statistics included
    disc_before = snapshot(model.adversary)
    set_iter(6)
    monkeypatch.setattr(head.loss_decode, 'forward', _nan_forward)
    with _Records() as records:
        logs = model.train_step(make_batch(), ow)
    # no step, no NaN anywhere, gradients cleared, buffers restored
    _assert_unchanged(seg_before, model.segmentor)
    assert all(p.grad is None or not p.grad.any()
               for p in model.segmentor.parameters())
    assert int(model.skipped_steps) == 1
    assert int(logs['nonfinite_skips']) == 1
    # the discriminators still learn from the (finite) predictions
    assert not torch.equal(
        disc_before['discriminators.primary.layers.0.weight'],
        model.adversary.discriminators.primary.layers[0].weight)
    (msg, ) = records.messages
    assert 'iteration 7' in msg and 'runner.iter=6' in msg
    assert 'src.decode.loss_ce=nan' in msg and 'segmentor update' in msg
    assert 'tgt.loss_adv' not in msg  # finite terms are not blamed

    # the next (finite) step trains; the counter is kept
    monkeypatch.undo()
    set_iter(7)
    logs = model.train_step(make_batch(seed=1), ow)
    assert not torch.equal(seg_before[HEAD_W],
                           model.segmentor.state_dict()[HEAD_W])
    assert int(logs['nonfinite_skips']) == 1


def test_skipped_sac_step_restores_the_class_prior(monkeypatch):
    """A skipped update undoes the step's buffer changes outside the
    segmentor too: SAC's class prior (Eq. 1, moved by the teacher's views
    in ``make_targets`` before the loss is known) is restored bit for bit,
    while a finite step moves it."""
    model = build_uda(teacher=dict(momentum=0.01, interval=1),
                      self_training=sac_cfg())
    ow = build_optim(model)
    labeler = model.self_training.pseudo_labeler
    prior = labeler.class_prior.clone()
    set_iter(3)
    monkeypatch.setattr(model.segmentor.decode_head.loss_decode, 'forward',
                        _nan_forward)
    model.train_step(make_batch(), ow)
    assert int(model.skipped_steps) == 1
    assert torch.equal(labeler.class_prior, prior)
    monkeypatch.undo()
    model.train_step(make_batch(), ow)
    assert int(model.skipped_steps) == 1
    assert not torch.equal(labeler.class_prior, prior)


def test_nan_discriminator_loss_skips_that_discriminator(monkeypatch):
    model = build_uda(adversary=adversary_cfg())
    ow = build_optim(model)
    before = snapshot(model)
    original = model.adversary.discriminator_loss

    def disc_loss(name, src, tgt):
        losses = original(name, src, tgt)
        if name == 'aux':
            losses['loss_d_tgt'] = losses['loss_d_tgt'] * float('inf')
        return losses

    monkeypatch.setattr(model.adversary, 'discriminator_loss', disc_loss)
    set_iter(3)
    with _Records() as records:
        logs = model.train_step(make_batch(), ow)
    after = snapshot(model)
    aux = [k for k in before if k.startswith('adversary.discriminators.aux')]
    primary = [
        k for k in before if k.startswith('adversary.discriminators.primary')
    ]
    assert all(torch.equal(before[k], after[k]) for k in aux)
    assert not all(torch.equal(before[k], after[k]) for k in primary)
    assert not torch.equal(before['segmentor.' + HEAD_W],
                           after['segmentor.' + HEAD_W])
    assert int(logs['nonfinite_skips']) == 1
    (msg, ) = records.messages
    assert 'disc_aux update' in msg and 'iteration 4' in msg
    assert 'loss_d_tgt=inf' in msg


def test_raise_policy(monkeypatch):
    with pytest.raises(ValueError, match='nonfinite_policy'):
        build_uda(nonfinite_policy='ignore')
    model = build_uda(nonfinite_policy='raise')
    ow = build_optim(model)
    before = snapshot(model.segmentor)
    monkeypatch.setattr(model.segmentor.decode_head.loss_decode, 'forward',
                        _nan_forward)
    set_iter(41)
    with pytest.raises(NonFiniteLossError,
                       match=r'src\.decode\.loss_ce=nan.*iteration 42') as e:
        model.train_step(make_batch(), ow)
    assert isinstance(e.value, FloatingPointError)
    assert isinstance(e.value, RuntimeError)
    _assert_unchanged(before, model.segmentor)
    assert int(model.skipped_steps) == 0


def test_nonfinite_gradient_with_finite_loss_is_skipped():
    model = build_uda()
    ow = build_optim(model)
    before = snapshot(model.segmentor)
    weight = model.segmentor.decode_head.conv_seg.convs[0].weight
    handle = weight.register_hook(lambda g: g * float('nan'))
    with _Records() as records:
        logs = model.train_step(make_batch(), ow)
    handle.remove()
    _assert_unchanged(before, model.segmentor)
    assert int(logs['nonfinite_skips']) == 1
    assert torch.isfinite(logs['loss'])
    (msg, ) = records.messages
    assert 'non-finite gradients of decode_head.conv_seg.convs.0.weight' in msg


def test_skip_decision_is_shared_by_all_ranks(monkeypatch):
    """Under torch.distributed the loss test is all-reduced (max): a rank
    whose own loss is finite skips too when another rank's is not (it would
    otherwise wait in the gradient all-reduce)."""
    from mmseg_uda.utils import nonfinite_guard
    calls = []

    def all_reduce(tensor, op='sum'):
        # mmengine's all_reduce as on 2 ranks: the other one reports a
        # non-finite loss
        calls.append(op)
        tensor.fill_(1)

    monkeypatch.setattr(nonfinite_guard, 'all_reduce', all_reduce)
    model = build_uda()
    ow = build_optim(model)
    before = snapshot(model.segmentor)
    with _Records() as records:
        logs = model.train_step(make_batch(), ow)
    assert calls == ['max']
    _assert_unchanged(before, model.segmentor)
    assert int(logs['nonfinite_skips']) == 1
    assert 'non-finite loss on another rank' in records.messages[0]


def _dist_worker(rank, port, out_dir):
    """One of two gloo ranks: rank 1 gets a NaN loss at the first step."""
    from mmengine.registry import init_default_scope
    torch.set_num_threads(1)
    init_default_scope('mmseg')
    torch_dist.init_process_group('gloo',
                                  init_method=f'tcp://127.0.0.1:{port}',
                                  rank=rank,
                                  world_size=2,
                                  timeout=timedelta(seconds=90))
    try:
        model = build_uda()  # same seed: identical replicas
        ow = build_optim(model)
        before = snapshot(model.segmentor)
        head = model.segmentor.decode_head
        if rank == 1:
            head.loss_decode.forward = _nan_forward
        model.train_step(make_batch(seed=rank), ow)
        unchanged = all(
            torch.equal(v,
                        model.segmentor.state_dict()[k])
            for k, v in before.items())
        if rank == 1:
            del head.loss_decode.forward
        model.train_step(make_batch(seed=rank), ow)
        torch.save(
            dict(unchanged=unchanged,
                 skipped=int(model.skipped_steps),
                 params=[p.detach() for p in model.segmentor.parameters()]),
            osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def _dist_child(index, port, out_dir):
    _dist_worker(1, port, out_dir)


@pytest.mark.slow
def test_two_gloo_ranks_skip_together(tmp_path):
    """Real torch.distributed (gloo; this process is rank 0, a spawned one
    rank 1): a NaN on rank 1 makes both ranks skip without deadlock (a
    collective times out after 90 s instead); the next step is averaged as
    usual."""
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    ctx = mp.start_processes(_dist_child,
                             args=(port, str(tmp_path)),
                             nprocs=1,
                             join=False,
                             start_method='spawn')
    try:
        _dist_worker(0, port, str(tmp_path))
        assert ctx.join(timeout=120)
    finally:
        for proc in ctx.processes:
            if proc.is_alive():
                proc.kill()
    assert not torch_dist.is_initialized()
    results = [torch.load(str(tmp_path / f'rank{r}.pth')) for r in (0, 1)]
    for res in results:
        assert res['unchanged'] and res['skipped'] == 1
    for p0, p1 in zip(results[0]['params'], results[1]['params']):
        assert torch.equal(p0, p1)


def test_skipped_steps_is_checkpointed():
    model = build_uda()
    model.skipped_steps.fill_(3)
    state = model.state_dict()
    assert int(state['skipped_steps']) == 3
    fresh = build_uda()
    fresh.load_state_dict(state)
    assert int(fresh.skipped_steps) == 3
    # checkpoints written before the counter existed still load strictly
    del state['skipped_steps']
    fresh.load_state_dict(state, strict=True)
    assert int(fresh.skipped_steps) == 0


# ----------------------------------------------------------------------------
# debug panel and pseudo-label statistics
# ----------------------------------------------------------------------------


def _split_batch(n=2):
    """Target images bright on the left half and dark on the right, with
    target labels 0 (left) / 1 (right) for monitoring."""
    batch = make_batch(n)
    tgt = torch.zeros(n, 3, H, W, dtype=torch.uint8)
    tgt[..., :W // 2] = 255
    labels = torch.ones(n, H, W, dtype=torch.long)
    labels[..., :W // 2] = 0
    labels[:, -2:] = 255  # a band without labels
    batch['target_inputs'] = list(tgt)
    samples = []
    for i in range(n):
        s = SegDataSample(
            metainfo=dict(img_shape=(H, W), ori_shape=(H, W), pad_shape=(H,
                                                                         W)))
        s.gt_sem_seg = PixelData(data=labels[i][None].clone())
        samples.append(s)
    batch['target_data_samples'] = samples
    return batch, labels[0].numpy()


def _oracle_teacher(monkeypatch, model):
    """A teacher that labels bright pixels 0 and dark ones 1."""
    teacher = model.teacher.module

    def decode(feats):
        r = feats[:, 0]
        low = torch.full_like(r, -20.)
        return torch.stack([10 * r, -10 * r, low, low], dim=1)

    monkeypatch.setattr(teacher, 'extract_feat', lambda x: x)
    monkeypatch.setattr(teacher.decode_head, 'forward', decode)


def _runner(model, tmp_path, dataset=None, val_dataset=None):
    dataset = dataset if dataset is not None else SimpleNamespace(
        metainfo=dict(classes=CLASSES, palette=PALETTE))
    loop = SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))
    val_loop = None if val_dataset is None else SimpleNamespace(
        dataloader=SimpleNamespace(dataset=val_dataset))
    return SimpleNamespace(model=model,
                           iter=0,
                           work_dir=str(tmp_path),
                           train_loop=loop,
                           train_dataloader=loop.dataloader,
                           val_loop=val_loop)


def _train_iters(hook, runner, model, ow, batch, iters):
    logs = []
    for it in iters:
        runner.iter = it
        set_iter(it)
        hook.before_train_iter(runner, it, batch)
        logs.append(model.train_step(batch, ow))
        hook.after_train_iter(runner, it, batch, logs[-1])
    return logs


@pytest.mark.parametrize('base_scale_range', [None, (1.0, 1.1)])
def test_sac_panel_and_pseudo_label_stats(monkeypatch, tmp_path,
                                          base_scale_range):
    # every view flipped and cropped: a wrong geometry would swap halves
    views = dict(type='MultiCropViews',
                 num_views=3,
                 scale_range=(0.5, 1.0),
                 flip_prob=1.0,
                 base_scale_range=base_scale_range)
    model = build_uda(teacher=dict(momentum=0.01, interval=1),
                      self_training=sac_cfg(views=views))
    _oracle_teacher(monkeypatch, model)
    ow = build_optim(model)
    batch, gt = _split_batch()
    runner = _runner(model, tmp_path)
    hook = UDAVisualizationHook(interval=2)
    hook.before_train(runner)
    assert model.pl_stats and model.class_names == CLASSES

    seen = {}
    orig_collect = model.collect_debug

    def collect(*args, **kwargs):
        seen['debug'] = orig_collect(*args, **kwargs)
        return seen['debug']

    monkeypatch.setattr(model, 'collect_debug', collect)
    logs = _train_iters(hook, runner, model, ow, batch, [0, 1])

    # statistics every step: per-class shares sum to the coverage
    for log in logs:
        shares = [
            float(log[f'pl_coverage.{c.replace(" ", "_")}']) for c in CLASSES
        ]
        assert sum(shares) == pytest.approx(float(log['pl_coverage']),
                                            abs=1e-5)
        assert shares[2] == shares[3] == 0  # never predicted
        # an oracle teacher gives accurate pseudo labels: only the blurred
        # boundary pixels can be wrong
        assert float(log['pl_accuracy']) > 0.95
    # the debug snapshot only on the panel iteration (iter 2 of 2)
    assert 'debug' in seen and seen['debug']['iter'] == 1
    assert not model.keep_debug and model.last_debug is None
    debug = seen['debug']
    assert debug['reference_name'] == 'teacher'
    valid = gt != 255
    assert (debug['reference'][valid] == gt[valid]).mean() > 0.95
    labelled = valid & (debug['pseudo_labels'] != 255)
    assert labelled.mean() > 0.5
    assert (debug['pseudo_labels'][labelled] == gt[labelled]).mean() > 0.95
    # bright left half de-normalised back to 255
    assert debug['image'].shape == (H, W, 3)
    assert (debug['image'][:, :W // 2] == 255).all()

    assert not osp.exists(tmp_path / 'vis' / 'iter_000001.png')
    panel = cv2.imread(str(tmp_path / 'vis' / 'iter_000002.png'))
    assert panel.shape == (2 * H, 3 * W, 3)
    # ground-truth tile (row 2, column 2): dataset palette, BGR; bottom
    # rows are unlabelled (black)
    gt_tile = panel[H:, W:2 * W]
    assert gt_tile[H - 4, W - 2].tolist() == PALETTE[1][::-1]
    assert gt_tile[H - 1, W - 2].tolist() == [0, 0, 0]

    hook.after_train(runner)
    assert not model.pl_stats and not model.keep_debug


def test_mrnet_panel_without_teacher(tmp_path):
    model = build_uda(adversary=adversary_cfg(),
                      memory_reg=dict(type='MemoryRegLoss', loss_weight=0.1))
    ow = build_optim(model)
    runner = _runner(model, tmp_path, dataset=SimpleNamespace(metainfo={}))
    hook = UDAVisualizationHook(interval=1)
    hook.before_train(runner)
    (logs, ) = _train_iters(hook, runner, model, ow, make_batch(), [4])
    assert not any(k.startswith('pl_') for k in logs)
    panel = cv2.imread(str(tmp_path / 'vis' / 'iter_000005.png'))
    assert panel.shape == (2 * H, 3 * W, 3)
    # no target labels and no pseudo labels: grey tiles
    assert panel[H + H // 2, W + W // 2].tolist() == [96, 96, 96]
    assert panel[H // 2, 2 * W + W // 2].tolist() == [96, 96, 96]


def test_monitoring_is_off_by_default():
    model = build_uda(teacher=dict(momentum=0.01, interval=1),
                      self_training=sac_cfg())
    logs = model.train_step(make_batch(), build_optim(model))
    assert model.last_debug is None
    assert 'pl_coverage' in logs and 'pl_accuracy' not in logs
    assert not any(k.startswith('pl_coverage.') for k in logs)
    assert int(logs['nonfinite_skips']) == 0


def test_render_panel_scales_tiles():
    debug = dict(image=np.zeros((100, 400, 3), np.uint8),
                 num_classes=3,
                 student=np.zeros((100, 400), np.int64),
                 reference=None,
                 pseudo_labels=np.full((100, 400), 255),
                 gt=None)
    panel = render_debug_panel(debug, max_tile_width=200)
    assert panel.shape == (100, 600, 3)
    # the fixed palette when the dataset has none: class 0 = Cityscapes road
    assert panel[99, 10].tolist() == [128, 64, 128][::-1]


# ----------------------------------------------------------------------------
# configuration errors before the first step
# ----------------------------------------------------------------------------


class TinySegDataset(Dataset):
    """In-memory samples as packed by ``PackSegInputs``."""

    def __init__(self, classes=CLASSES, n=2, seed=0, labels=True):
        self.metainfo = dict(classes=tuple(classes), palette=PALETTE)
        self.batch = make_batch(n, seed=seed, target=False)
        self.labels = labels

    def __len__(self):
        return len(self.batch['inputs'])

    def __getitem__(self, idx):
        sample = self.batch['data_samples'][idx]
        if not self.labels:
            sample = SegDataSample(metainfo=sample.metainfo)
        return dict(inputs=self.batch['inputs'][idx], data_samples=sample)


def test_check_dataset_class_counts(tmp_path):
    model = build_uda(adversary=adversary_cfg())
    five = TinySegDataset(classes=CLASSES + ('bus', ))
    uda = UDADataset(source=five,
                     target=TinySegDataset(classes=('a', 'b', 'c', 'd', 'e')))
    hook = UDADatasetCheckHook()
    with pytest.raises(ValueError,
                       match=r'train dataset UDADataset \(source '
                       r'TinySegDataset\) has 5 classes but the model '
                       r'predicts 4'):
        hook.before_train(_runner(model, tmp_path, dataset=uda))
    # the val dataset is checked too
    good = UDADataset(source=TinySegDataset(), target=TinySegDataset())
    with pytest.raises(ValueError,
                       match='val dataset TinySegDataset has 5 '
                       'classes but the model predicts 4'):
        UDADatasetCheckHook().before_train(
            _runner(model, tmp_path, dataset=good, val_dataset=five))
    UDADatasetCheckHook().before_train(
        _runner(model, tmp_path, dataset=good, val_dataset=TinySegDataset()))
    assert model.class_names == CLASSES
    # heads of one student must agree
    cfg = segmentor_cfg('fcn')
    cfg['auxiliary_head']['num_classes'] = NUM_CLASSES + 2
    with pytest.raises(ValueError, match='auxiliary_head.num_classes=6'):
        from mmseg.registry import MODELS
        MODELS.build(ConfigDict(type='UDASegmentor', segmentor=cfg))


@pytest.mark.parametrize('kwargs', [
    dict(adversary=adversary_cfg()),
    dict(update_target_bn_stats=True),
    dict(teacher=dict(momentum=0.01, interval=1), self_training=sac_cfg()),
    dict(memory_reg=dict(type='MemoryRegLoss'), memory_reg_on='target'),
])
def test_check_dataset_target_part(tmp_path, kwargs):
    model = build_uda(**kwargs)
    with pytest.raises(ValueError,
                       match='train dataset is TinySegDataset, '
                       'which has no target part.*UDADataset'):
        UDADatasetCheckHook().before_train(
            _runner(model, tmp_path, dataset=TinySegDataset()))


def test_check_dataset_source_only_needs_no_target(tmp_path):
    model = build_uda()
    UDADatasetCheckHook().before_train(
        _runner(model, tmp_path, dataset=TinySegDataset()))


def test_check_dataset_looks_through_wrappers():
    model = build_uda(adversary=adversary_cfg())
    uda = UDADataset(source=TinySegDataset(), target=TinySegDataset())
    repeat = SimpleNamespace(dataset=uda, metainfo=uda.metainfo)
    model.check_dataset(repeat)
    model.check_dataset(SimpleNamespace(datasets=[uda, repeat]))
    with pytest.raises(ValueError, match='no target part'):
        model.check_dataset(SimpleNamespace(datasets=[uda, TinySegDataset()]))
    bad = UDADataset(source=TinySegDataset(CLASSES[:3]),
                     target=TinySegDataset(CLASSES[:3]))
    with pytest.raises(ValueError,
                       match=r'\(source TinySegDataset\) has 3 '
                       'classes but the model predicts 4'):
        model.check_dataset(SimpleNamespace(dataset=bad), 'train')


# ----------------------------------------------------------------------------
# through mmengine's Runner
# ----------------------------------------------------------------------------


def _model_cfg(**kwargs):
    return ConfigDict(type='UDASegmentor',
                      segmentor=segmentor_cfg('dual'),
                      data_preprocessor=dict(type='UDADataPreProcessor',
                                             mean=MEAN,
                                             std=STD,
                                             bgr_to_rgb=True,
                                             size=(H, W),
                                             pad_val=0,
                                             seg_pad_val=255),
                      **kwargs)


def _build_runner(tmp_path, model, dataset, optim=None, **kwargs):
    from mmengine.runner import Runner
    optim = optim if optim is not None else optim_cfg()
    return Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'nsf_{uuid.uuid4().hex}',
        train_dataloader=dict(dataset=dataset,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=False),
                              batch_size=2,
                              num_workers=0),
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=100),
        optim_wrapper=dict(constructor='UDAOptimWrapperConstructor', **optim),
        default_hooks=dict(checkpoint=None,
                           logger=dict(type='LoggerHook', interval=1),
                           uda_check=dict(type='UDADatasetCheckHook')),
        default_scope='mmseg',
        log_level='WARNING',
        **kwargs)


@pytest.mark.slow
def test_runner_sac_with_panels_and_checks(tmp_path):
    dataset = UDADataset(source=TinySegDataset(),
                         target=TinySegDataset(seed=1))
    runner = _build_runner(tmp_path,
                           _model_cfg(teacher=dict(momentum=0.01, interval=1),
                                      self_training=sac_cfg()),
                           dataset,
                           custom_hooks=[
                               dict(type='EMATeacherHook'),
                               dict(type='UDAVisualizationHook', interval=1)
                           ])
    runner.train()
    for it in (1, 2):
        panel = cv2.imread(str(tmp_path / 'vis' / f'iter_{it:06d}.png'))
        assert panel.shape == (2 * H, 3 * W, 3)
    scalars = runner.message_hub.log_scalars
    assert 'train/pl_coverage.traffic_light' in scalars
    assert scalars['train/nonfinite_skips'].current() == 0


def test_runner_fails_before_the_first_step(tmp_path, monkeypatch):
    """A method needing target images on a plain dataset fails in
    before_train, before any batch reaches train_step."""
    from mmseg_uda.models.segmentors.uda_segmentor import UDASegmentor
    steps = []
    monkeypatch.setattr(UDASegmentor, 'train_step',
                        lambda self, *a, **k: steps.append(1))
    runner = _build_runner(tmp_path, _model_cfg(adversary=adversary_cfg()),
                           TinySegDataset())
    with pytest.raises(ValueError, match='adversary.*TinySegDataset'):
        runner.train()
    assert not steps


def test_runner_discriminator_without_optimizer(tmp_path):
    runner = _build_runner(tmp_path,
                           _model_cfg(adversary=adversary_cfg()),
                           UDADataset(source=TinySegDataset(),
                                      target=TinySegDataset()),
                           optim=dict(segmentor=optim_cfg()['segmentor']))
    with pytest.raises(KeyError,
                       match="'disc_primary'.*optim_wrapper."
                       "disc_primary.*'discriminator' entry"):
        runner.train()
