# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Shared fixtures: a tiny UDASegmentor, its optimizer wrappers and fake UDA
batches for the training-machinery tests; the synthetic benchmark, generated
once per session, for the tests that train through the tools.

Everything is small enough for a shared 2-core CPU: ResNetV1c-18 with 8 base
channels, 4 classes, 32x64 images, batches of 2.

Markers (``pytest.ini``): ``slow`` marks the tests that train or evaluate
in subprocesses or through the Runner; ``pytest -m "not slow"`` runs the
unit tests alone. Subprocesses run without a GPU (``CUDA_VISIBLE_DEVICES``
empty, see :func:`cpu_env`).
"""
import os
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg_uda.engine.optimizers.uda_optim_wrapper_constructor import \
    UDAOptimWrapperConstructor

NUM_CLASSES = 4
H, W = 32, 64
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def data_preprocessor_cfg() -> dict:
    return dict(
        type='UDADataPreProcessor',
        mean=MEAN,
        std=STD,
        bgr_to_rgb=True,
        size=(H, W),
        pad_val=0,
        seg_pad_val=255)


def _backbone() -> dict:
    return dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=8,
        base_channels=8,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        contract_dilation=True)


def segmentor_cfg(head: str = 'dual') -> dict:
    """A tiny student. ``head``: ``'dual'`` (DualDeepLabV2Head, no dropout so
    a forward pass can be recomputed exactly), ``'fcn'`` (FCNHead + FCNHead
    ``auxiliary_head``), ``'aspp'`` (DepthwiseSeparableASPPHead + FCNHead
    ``auxiliary_head``) or ``'single'`` (FCNHead only)."""
    ce = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    aux_head = dict(
        type='FCNHead', in_channels=32, in_index=2, channels=8, num_convs=1,
        concat_input=False, dropout_ratio=0., num_classes=NUM_CLASSES,
        norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=0.4))
    fcn = dict(
        type='FCNHead', in_channels=64, in_index=3, channels=8, num_convs=1,
        concat_input=False, dropout_ratio=0., num_classes=NUM_CLASSES,
        norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        loss_decode=ce)
    cfg = dict(
        type='EncoderDecoder',
        backbone=_backbone(),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
    if head == 'dual':
        cfg['decode_head'] = dict(
            type='DualDeepLabV2Head', in_channels=(32, 64), in_index=(2, 3),
            channels=8, num_classes=NUM_CLASSES, dropout_ratio=0.,
            align_corners=True, loss_decode=ce)
    elif head == 'fcn':
        cfg.update(decode_head=fcn, auxiliary_head=aux_head)
    elif head == 'aspp':
        cfg.update(
            decode_head=dict(
                type='DepthwiseSeparableASPPHead', in_channels=64,
                in_index=3, channels=8, dilations=(1, 2, 3, 4),
                c1_in_channels=8, c1_channels=4, dropout_ratio=0.,
                num_classes=NUM_CLASSES,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False, loss_decode=ce),
            auxiliary_head=aux_head)
    elif head == 'single':
        cfg['decode_head'] = fcn
    else:
        raise ValueError(head)
    return cfg


def adversary_cfg(weights=(1.0, 0.5), heads=('primary', 'aux'),
                  **kwargs) -> dict:
    """Two small FCDiscriminators. The adversarial weights are larger than
    the papers' (0.001 / 0.0002) so their gradient is easy to see."""
    cfg = dict(
        type='OutputSpaceAdversary',
        discriminators={h: dict(type='FCDiscriminator', ndf=8)
                        for h in heads},
        loss_weights=dict(zip(heads, weights)),
        gan_loss=dict(type='GANLoss', gan_type='vanilla'),
        disc_loss_weight=0.5)
    cfg.update(kwargs)
    return cfg


def sac_cfg(num_views: int = 3, **kwargs) -> dict:
    cfg = dict(
        type='AugmentationConsistency',
        views=dict(type='MultiCropViews', num_views=num_views,
                   scale_range=(0.5, 1.0), flip_prob=0.5),
        noise=dict(type='PhotometricNoise'),
        pseudo_labeler=dict(type='AdaptivePseudoLabeler', momentum=0.99,
                            zeta=0.75, beta=1e-3),
        loss=dict(type='FocalConfidenceLoss', focal_power=3.0,
                  loss_weight=5.0),
        seed=0)
    cfg.update(kwargs)
    return cfg


def build_uda(head: str = 'dual', seed: int = 0, **kwargs) -> nn.Module:
    """A tiny ``UDASegmentor`` (train mode); ``kwargs`` go to its config."""
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    # a ConfigDict, as from a config file (EncoderDecoder reads test_cfg.mode)
    model = MODELS.build(
        ConfigDict(
            type='UDASegmentor',
            segmentor=segmentor_cfg(head),
            data_preprocessor=data_preprocessor_cfg(),
            **kwargs))
    model.train()
    return model


def optim_cfg(seg_lr: float = 0.01, disc_lr: float = 1e-3,
              seg_momentum: float = 0.9, weight_decay: float = 5e-4) -> dict:
    return dict(
        segmentor=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=seg_lr, momentum=seg_momentum,
                           weight_decay=weight_decay),
            paramwise_cfg=dict(
                custom_keys={'decode_head': dict(lr_mult=10.)})),
        discriminator=dict(
            type='OptimWrapper',
            optimizer=dict(type='Adam', lr=disc_lr, betas=(0.9, 0.99))))


def build_optim(model: nn.Module, **kwargs):
    """The model's ``OptimWrapperDict`` via ``UDAOptimWrapperConstructor``."""
    return UDAOptimWrapperConstructor(optim_cfg(**kwargs))(model)


def _samples(labels: Optional[torch.Tensor], n: int) -> List[SegDataSample]:
    samples = []
    for i in range(n):
        s = SegDataSample(
            metainfo=dict(img_shape=(H, W), ori_shape=(H, W),
                          pad_shape=(H, W)))
        if labels is not None:
            s.gt_sem_seg = PixelData(data=labels[i][None].clone())
        samples.append(s)
    return samples


def make_batch(n: int = 2, seed: int = 0, target: bool = True,
               ignore_all: bool = False) -> Dict[str, list]:
    """A fake dataloader batch: uint8 CHW images, labelled source samples
    and (optionally) unlabelled target images. Source and target images
    differ in brightness so that BN statistics of the two domains differ."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, 160, (n, 3, H, W), generator=g, dtype=torch.uint8)
    # labels that depend on the image, with a band of ignored pixels
    labels = (src[:, 0].long() * NUM_CLASSES) // 160
    labels[:, :3] = 255
    if ignore_all:
        labels[:] = 255
    batch = dict(inputs=list(src), data_samples=_samples(labels, n))
    if target:
        tgt = torch.randint(90, 256, (n, 3, H, W), generator=g,
                            dtype=torch.uint8)
        batch['target_inputs'] = list(tgt)
        batch['target_data_samples'] = _samples(None, n)
    return batch


def set_iter(it: int) -> None:
    MessageHub.get_current_instance().update_info('iter', it)


def snapshot(module: nn.Module) -> Dict[str, torch.Tensor]:
    """Detached copies of a module's parameters and buffers."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def upsample(x: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    if x.shape[-2:] == (H, W):
        return x
    return F.interpolate(x, size=(H, W), mode='bilinear',
                         align_corners=align_corners)


def symmetric_kl(zp: torch.Tensor, za: torch.Tensor) -> torch.Tensor:
    """MRNet Eq. 5 written out in float64: mean over pixels of
    KL(pa || pp) + KL(pp || pa)."""
    pp = torch.softmax(zp.double(), 1)
    pa = torch.softmax(za.double(), 1)
    kl = (pa * (pa.log() - pp.log())).sum(1) + \
        (pp * (pp.log() - pa.log())).sum(1)
    return kl.mean()


# ----------------------------------------------------------------------------
# the synthetic benchmark, once per session
# ----------------------------------------------------------------------------

# 4 source images per source format, 4 target-train and 2 val images, as
# small as the configs' 256x128 crops
SYNTHETIC_COUNTS = dict(num_source=4, num_target_train=4, num_val=2)
SYNTHETIC_SIZE = (256, 128)


def cpu_env(**extra) -> dict:
    """Environment of a test subprocess: one BLAS/OpenMP thread and no GPU,
    so that the suite checks the same (CPU) behaviour on a GPU machine."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               CUDA_VISIBLE_DEVICES='')
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory) -> Path:
    """The embedded benchmark (GTA-, SYNTHIA- and Cityscapes-format parts,
    seed 0), generated once for the whole session. Read-only: use
    :func:`bench_dir` for a working directory."""
    from mmseg_uda.benchmarks.synthetic import generate_benchmark
    out = tmp_path_factory.mktemp('synthetic_data') / 'synthetic'
    generate_benchmark(str(out), seed=0, size=SYNTHETIC_SIZE, verbose=False,
                       **SYNTHETIC_COUNTS)
    return out


def make_bench_dir(root: Path, data: Path) -> Path:
    """``root`` as a working directory whose ``data/synthetic`` is the
    session's benchmark, so the configs' relative data roots resolve as
    for a user."""
    (root / 'data').mkdir(parents=True, exist_ok=True)
    link = root / 'data' / 'synthetic'
    if not link.exists():
        link.symlink_to(data, target_is_directory=True)
    return root


@pytest.fixture(scope='module')
def bench_dir(synthetic_data, tmp_path_factory) -> Path:
    """A working directory of its own for each test module, sharing the
    session's synthetic benchmark (see :func:`make_bench_dir`)."""
    return make_bench_dir(tmp_path_factory.mktemp('bench'), synthetic_data)


@pytest.fixture
def uda_env():
    """mmseg default scope, MessageHub iteration 0 and a fixed seed (use with
    ``pytestmark = pytest.mark.usefixtures('uda_env')``)."""
    threads = torch.get_num_threads()
    # one thread: far faster than two contended ones on a shared 2-core box
    torch.set_num_threads(1)
    init_default_scope('mmseg')
    set_iter(0)
    torch.manual_seed(0)
    yield
    set_iter(0)
    torch.set_num_threads(threads)
