# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Tests of MRNet's model components (head, losses, discriminators)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg_uda.models.losses import r1_gradient_penalty

# ----------------------------------------------------------------------------
# MemoryRegLoss
# ----------------------------------------------------------------------------


def _kl(q, r):
    """KL(q || r) per pixel, written out as sum_c q log(q / r)."""
    return (q * torch.log(q / r)).sum(dim=1)


def _mr_reference(zp, za, mode, ignore_mask=None, reduce=True):
    """Independent float64 reference of the memory regularisation."""
    pp = torch.softmax(zp, dim=1)
    pa = torch.softmax(za, dim=1)
    if mode == 'symmetric':
        per_pixel = _kl(pa, pp) + _kl(pp, pa)
    else:
        t = torch.softmax(0.5 * za + zp, dim=1).detach()
        per_pixel = _kl(t, pp) + _kl(t, pa)
    if not reduce:
        return per_pixel
    if ignore_mask is None:
        return per_pixel.mean()
    valid = ~ignore_mask
    return per_pixel[valid].sum() / valid.sum()


def _random_logits(seed, shape=(2, 5, 6, 7), scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize('mode', ['symmetric', 'fused'])
def test_memory_reg_value_and_grad(mode):
    zp64 = _random_logits(0).requires_grad_()
    za64 = _random_logits(1).requires_grad_()
    ref = 0.1 * _mr_reference(zp64, za64, mode)
    ref.backward()

    loss_fn = MODELS.build(dict(type='MemoryRegLoss', mode=mode))
    assert loss_fn.loss_weight == 0.1
    zp = zp64.detach().float().requires_grad_()
    za = za64.detach().float().requires_grad_()
    out = loss_fn(zp, za)
    assert out.dim() == 0 and out.dtype == torch.float32
    torch.testing.assert_close(
        out.double(), ref.detach(), rtol=1e-5, atol=1e-7)
    out.backward()
    torch.testing.assert_close(
        zp.grad.double(), zp64.grad, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(
        za.grad.double(), za64.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('which', ['both', 'primary', 'aux'])
def test_memory_reg_weighted_map_grad(which):
    """The hand-written backward of the symmetric KL under a non-uniform
    upstream gradient (a per-pixel weighting of ``reduction='none'``) and
    with only one of the two inputs requiring a gradient."""
    zp64 = _random_logits(2).requires_grad_(which in ('both', 'primary'))
    za64 = _random_logits(3).requires_grad_(which in ('both', 'aux'))
    w = torch.rand(zp64.shape[0], *zp64.shape[2:], dtype=torch.float64,
                   generator=torch.Generator().manual_seed(4))
    inputs64 = [t for t in (zp64, za64) if t.requires_grad]
    ref_grads = torch.autograd.grad(
        (0.1 * _mr_reference(zp64, za64, 'symmetric', reduce=False) *
         w).sum(), inputs64)

    loss_fn = MODELS.build(dict(type='MemoryRegLoss', reduction='none'))
    zp = zp64.detach().float().requires_grad_(zp64.requires_grad)
    za = za64.detach().float().requires_grad_(za64.requires_grad)
    inputs = [t for t in (zp, za) if t.requires_grad]
    grads = torch.autograd.grad((loss_fn(zp, za) * w.float()).sum(), inputs)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g.double(), r, rtol=1e-4, atol=1e-7)


def test_memory_reg_loss_weight_and_half_inputs():
    zp = _random_logits(2)
    za = _random_logits(3)
    ref = _mr_reference(zp, za, 'symmetric')
    loss_fn = MODELS.build(
        dict(type='MemoryRegLoss', mode='symmetric', loss_weight=2.0))
    torch.testing.assert_close(
        loss_fn(zp.float(), za.float()).double(), 2 * ref, rtol=1e-5,
        atol=1e-7)
    # low precision inputs are computed in float32
    out = loss_fn(zp.bfloat16(), za.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(
        out.double(),
        2 * _mr_reference(zp.bfloat16().double(), za.bfloat16().double(),
                          'symmetric'),
        rtol=1e-5,
        atol=1e-6)


def test_memory_reg_zero_when_heads_agree():
    z = _random_logits(4).float()
    loss_fn = MODELS.build(dict(type='MemoryRegLoss', mode='symmetric'))
    assert loss_fn(z, z.clone()).abs().item() < 1e-7
    # 'fused': the teacher softmax(1.5 z) is sharper than softmax(z), so the
    # loss vanishes only for uniform predictions
    fused = MODELS.build(dict(type='MemoryRegLoss', mode='fused'))
    const = torch.zeros(1, 4, 3, 3)
    assert fused(const, const).abs().item() < 1e-7
    assert fused(z, z.clone()).item() > 0


@pytest.mark.parametrize('mode', ['symmetric', 'fused'])
def test_memory_reg_ignore_mask(mode):
    zp = _random_logits(5)
    za = _random_logits(6)
    g = torch.Generator().manual_seed(7)
    mask = torch.rand(zp.shape[0], *zp.shape[2:], generator=g) > 0.5
    loss_fn = MODELS.build(dict(type='MemoryRegLoss', mode=mode))

    out = loss_fn(zp.float(), za.float(), ignore_mask=mask)
    torch.testing.assert_close(
        out.double(), 0.1 * _mr_reference(zp, za, mode, mask), rtol=1e-5,
        atol=1e-7)

    # masked pixels do not change the value (nor receive gradient)
    zp2 = zp.clone()
    za2 = za.clone()
    m = mask[:, None].expand_as(zp)
    zp2[m] = 10 * torch.randn(int(m.sum()), dtype=zp.dtype)
    za2[m] = 10 * torch.randn(int(m.sum()), dtype=za.dtype)
    zp2 = zp2.float().requires_grad_()
    out2 = loss_fn(zp2, za2.float(), ignore_mask=mask)
    torch.testing.assert_close(out2, out, rtol=1e-5, atol=1e-7)
    out2.backward()
    assert zp2.grad[m].abs().max().item() == 0

    # all but one pixel masked: the value of that pixel
    only = torch.ones_like(mask)
    only[1, 2, 3] = False
    per_pixel = _mr_reference(zp, za, mode, reduce=False)
    torch.testing.assert_close(
        loss_fn(zp.float(), za.float(), ignore_mask=only).double(),
        0.1 * per_pixel[1, 2, 3],
        rtol=1e-5,
        atol=1e-7)

    # everything masked: zero, still differentiable
    zp3 = zp.float().requires_grad_()
    out3 = loss_fn(zp3, za.float(), ignore_mask=torch.ones_like(mask))
    assert out3.item() == 0
    out3.backward()


def test_memory_reg_resize_and_reduction_none():
    zp = _random_logits(8, shape=(2, 4, 8, 8)).float()
    za = _random_logits(9, shape=(2, 4, 4, 4)).float()
    loss_fn = MODELS.build(
        dict(type='MemoryRegLoss', mode='symmetric', align_corners=True))
    za_up = F.interpolate(
        za, size=(8, 8), mode='bilinear', align_corners=True)
    torch.testing.assert_close(loss_fn(zp, za), loss_fn(zp, za_up))

    per_pixel = MODELS.build(
        dict(type='MemoryRegLoss', reduction='none', loss_weight=1.0))
    out = per_pixel(zp, za_up)
    assert out.shape == (2, 8, 8)
    torch.testing.assert_close(
        out.double(),
        _mr_reference(zp.double(), za_up.double(), 'symmetric', reduce=False),
        rtol=1e-5,
        atol=1e-6)


# ----------------------------------------------------------------------------
# GANLoss and R1 penalty
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('target_is_real', [True, False])
def test_gan_loss_vanilla(target_is_real):
    d = torch.randn(2, 1, 3, 4, generator=torch.Generator().manual_seed(0))
    loss_fn = MODELS.build(
        dict(type='GANLoss', gan_type='vanilla', loss_weight=0.5))
    y = 1.0 if target_is_real else 0.0
    s = torch.sigmoid(d.double())
    expected = -(y * torch.log(s) + (1 - y) * torch.log(1 - s)).mean()
    torch.testing.assert_close(
        loss_fn(d, target_is_real).double(), 0.5 * expected, rtol=1e-5,
        atol=1e-7)


def test_gan_loss_lsgan_labels_and_scales():
    g = torch.Generator().manual_seed(1)
    d1 = torch.randn(2, 1, 4, 4, generator=g)
    d2 = torch.randn(2, 1, 2, 2, generator=g)
    loss_fn = MODELS.build(
        dict(type='GANLoss', gan_type='lsgan', real_label=0.9, fake_label=0.1))
    torch.testing.assert_close(
        loss_fn(d1, True), ((d1 - 0.9)**2).mean())
    torch.testing.assert_close(
        loss_fn(d1, False), ((d1 - 0.1)**2).mean())
    # multi-scale outputs: per-scale losses are summed
    torch.testing.assert_close(
        loss_fn([d1, d2], True),
        ((d1 - 0.9)**2).mean() + ((d2 - 0.9)**2).mean())
    assert loss_fn(d1.half(), True).dtype == torch.float32
    with pytest.raises(AssertionError):
        MODELS.build(dict(type='GANLoss', gan_type='wgan'))


def test_r1_gradient_penalty_linear_discriminator():
    # D(x) = w . x per pixel -> grad of sum D w.r.t. x is w at every pixel:
    # ||grad||^2 = H * W * ||w||^2 per sample
    conv = nn.Conv2d(3, 1, kernel_size=1)
    x = torch.randn(2, 3, 4, 5).requires_grad_()
    expected = 4 * 5 * conv.weight.pow(2).sum()
    penalty = r1_gradient_penalty(conv(x), x)
    torch.testing.assert_close(penalty, expected)
    # multi-scale: sum over scales
    out = conv(x)
    torch.testing.assert_close(
        r1_gradient_penalty([out, 2 * out], x), 5 * expected)
    # differentiable w.r.t. the discriminator
    penalty.backward()
    torch.testing.assert_close(conv.weight.grad,
                               2 * 4 * 5 * conv.weight.detach())


# ----------------------------------------------------------------------------
# Discriminators
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('size', [(64, 64), (96, 128), (64, 160)])
def test_fc_discriminator_shapes(size):
    disc = MODELS.build(dict(type='FCDiscriminator', num_classes=5, ndf=8))
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 1]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2)
               and c.padding == (1, 1) for c in convs)
    assert not any(
        isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))
        for m in disc.modules())
    out = disc(torch.rand(2, 5, *size))
    assert out.shape == (2, 1, size[0] // 32, size[1] // 32)
    default = MODELS.build(dict(type='FCDiscriminator', num_classes=5))
    assert [
        m.out_channels for m in default.modules()
        if isinstance(m, nn.Conv2d)
    ] == [64, 128, 256, 512, 1]


@pytest.mark.parametrize('size', [(64, 64), (96, 128)])
def test_multiscale_discriminator_shapes(size):
    disc = MODELS.build(dict(type='MultiScaleDiscriminator', num_classes=5))
    outs = disc(torch.rand(1, 5, *size))
    assert isinstance(outs, list) and len(outs) == 3
    h, w = size
    for s, out in enumerate(outs):
        f = 2**(s + 3)
        assert out.shape == (1, 1, h // f, w // f)
    # structure of one scale: five plain convs (two stride-1), 4 residual
    # blocks, final 1x1 conv to one channel
    net = disc.scales[0]
    plain = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in plain[:5]] == [2, 1, 2, 1, 2]
    assert [c.out_channels for c in plain[:5]] == [32, 32, 32, 32, 64]
    assert plain[-1].kernel_size == (1, 1) and plain[-1].out_channels == 1
    assert sum(type(m).__name__ == '_ResidualBlock' for m in net) == 4


def test_multiscale_discriminator_init_and_r1():
    torch.manual_seed(0)
    disc = MODELS.build(
        dict(
            type='MultiScaleDiscriminator',
            num_classes=4,
            num_scales=2,
            padding_mode='zeros'))
    disc.init_weights()
    weights = torch.cat([
        m.weight.flatten() for m in disc.modules() if isinstance(m, nn.Conv2d)
    ])
    assert abs(weights.std().item() - 0.02) < 0.002
    assert all(m.bias.abs().max() == 0 for m in disc.modules()
               if isinstance(m, nn.Conv2d))
    real = torch.softmax(torch.randn(2, 4, 32, 32), 1).requires_grad_()
    gan = MODELS.build(dict(type='GANLoss', gan_type='lsgan'))
    preds = disc(real)
    assert len(preds) == 2
    loss = gan(preds, True) + 0.01 * r1_gradient_penalty(preds, real)
    loss.backward()
    assert disc.scales[1][0].weight.grad is not None


# ----------------------------------------------------------------------------
# DualDeepLabV2Head
# ----------------------------------------------------------------------------


def _build_head(**kwargs):
    cfg = dict(
        type='DualDeepLabV2Head',
        in_channels=(6, 8),
        in_index=(2, 3),
        num_classes=5,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _features(n=2, h=5, w=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(n, 3, h * 2, w * 2, generator=g),
        torch.randn(n, 4, h, w, generator=g),
        torch.randn(n, 6, h, w, generator=g),
        torch.randn(n, 8, h, w, generator=g),
    ]


def test_dual_head_forward_shapes():
    head = _build_head()
    primary, aux = head(_features())
    assert primary.shape == aux.shape == (2, 5, 5, 6)
    assert head.conv_seg.convs[0].in_channels == 8
    assert head.conv_seg_aux.convs[0].in_channels == 6
    assert isinstance(head.dropout, nn.Dropout2d) and head.dropout.p == 0.1
    assert [c.dilation[0] for c in head.conv_seg.convs] == [6, 12, 18, 24]
    assert all(c.padding == c.dilation for c in head.conv_seg.convs)

    concat = _build_head(primary_concat_aux=True)
    assert concat.conv_seg.convs[0].in_channels == 14
    primary, aux = concat(_features())
    assert primary.shape == aux.shape == (2, 5, 5, 6)


def test_dual_head_sum_of_dilated_convs():
    head = _build_head()
    head.init_weights()
    head.eval()
    feats = _features(h=30, w=28)
    x = feats[3]
    classifier = head.conv_seg
    # full output is the sum of the four dilated convs
    expected = sum(
        F.conv2d(x, c.weight, c.bias, padding=d, dilation=d)
        for c, d in zip(classifier.convs, (6, 12, 18, 24)))
    torch.testing.assert_close(head(feats)[0], expected)
    # zeroing three branches leaves the remaining one
    with torch.no_grad():
        for i in (0, 1, 3):
            classifier.convs[i].weight.zero_()
            classifier.convs[i].bias.zero_()
    keep = classifier.convs[2]
    torch.testing.assert_close(
        head(feats)[0],
        F.conv2d(x, keep.weight, keep.bias, padding=18, dilation=18))
    # the auxiliary classifier reads layer3
    aux = head.conv_seg_aux
    torch.testing.assert_close(
        head(feats)[1],
        sum(
            F.conv2d(feats[2], c.weight, c.bias, padding=d, dilation=d)
            for c, d in zip(aux.convs, (6, 12, 18, 24))))


@pytest.mark.parametrize('fuse_mode', ['prob', 'logit'])
def test_dual_head_predict_fusion(fuse_mode):
    head = _build_head(fuse_mode=fuse_mode)
    head.eval()
    feats = _features()
    metas = [dict(img_shape=(20, 24), pad_shape=(20, 24))] * 2
    with torch.no_grad():
        primary, aux = head(feats)
        fused = head.predict(feats, metas, test_cfg=dict())
    up_p = F.interpolate(primary, (20, 24), mode='bilinear')
    up_a = F.interpolate(aux, (20, 24), mode='bilinear')
    if fuse_mode == 'prob':
        expected = torch.softmax(up_p, 1) + 0.5 * torch.softmax(up_a, 1)
    else:
        expected = torch.softmax(up_p + 0.5 * up_a, 1)
    assert fused.shape == (2, 5, 20, 24)
    torch.testing.assert_close(fused, expected)
    assert torch.equal(fused.argmax(1), expected.argmax(1))


def _data_samples(labels):
    samples = []
    for label in labels:
        s = SegDataSample(
            metainfo=dict(
                img_shape=tuple(label.shape),
                ori_shape=tuple(label.shape),
                pad_shape=tuple(label.shape)))
        s.gt_sem_seg = PixelData(data=label[None])
        samples.append(s)
    return samples


def _ce_mmseg_mean(logits, label):
    """Plain CE, mmseg default reduction: sum over non-ignored / all."""
    logp = torch.log_softmax(logits.double(), 1)
    valid = label != 255
    picked = logp.gather(1, label.clamp(max=logits.shape[1] - 1)[:, None])
    return -(picked[:, 0] * valid).sum() / label.numel()


def test_dual_head_losses():
    head = _build_head(aux_weight=0.5)
    head.eval()
    feats = _features()
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 5, (2, 10, 12), generator=g)
    labels[:, :2] = 255
    with torch.no_grad():
        primary, aux = head(feats)
        losses = head.loss_by_feat((primary, aux), _data_samples(labels))
    assert set(losses) == {'loss_ce', 'acc_seg', 'loss_ce_aux', 'acc_seg_aux'}
    up_p = F.interpolate(primary, (10, 12), mode='bilinear')
    up_a = F.interpolate(aux, (10, 12), mode='bilinear')
    torch.testing.assert_close(losses['loss_ce'].double(),
                               _ce_mmseg_mean(up_p, labels))
    torch.testing.assert_close(losses['loss_ce_aux'].double(),
                               0.5 * _ce_mmseg_mean(up_a, labels))
    acc = (up_p.argmax(1) == labels)[labels != 255].float().mean() * 100
    torch.testing.assert_close(losses['acc_seg'].reshape(()), acc)

    # a list of decode losses keeps its names, the aux copy is suffixed
    head2 = _build_head(
        aux_weight=0.4,
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_name='loss_ce'),
            dict(type='DiceLoss', loss_name='loss_dice')
        ])
    head2.load_state_dict(head.state_dict())
    head2.eval()
    with torch.no_grad():
        losses2 = head2.loss(feats, _data_samples(labels), train_cfg=dict())
    assert {'loss_ce', 'loss_dice', 'loss_ce_aux', 'loss_dice_aux'} <= set(
        losses2)
    torch.testing.assert_close(losses2['loss_ce_aux'].double(),
                               0.4 * _ce_mmseg_mean(up_a, labels))


# ----------------------------------------------------------------------------
# EncoderDecoder integration
# ----------------------------------------------------------------------------


def _tiny_segmentor():
    norm_cfg = dict(type='BN', requires_grad=True)
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=None,
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            stem_channels=8,
            base_channels=8,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 2, 4),
            strides=(1, 2, 1, 1),
            norm_cfg=norm_cfg,
            norm_eval=False,
            contract_dilation=True),
        decode_head=dict(
            type='DualDeepLabV2Head',
            in_channels=(32, 64),
            in_index=(2, 3),
            num_classes=4,
            dropout_ratio=0.1,
            align_corners=True,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=ConfigDict(mode='whole'))
    return MODELS.build(cfg)


def test_encoder_decoder_loss_predict_and_lr_mult():
    torch.manual_seed(0)
    model = _tiny_segmentor()
    inputs = torch.randn(2, 3, 32, 32)
    labels = torch.randint(0, 4, (2, 32, 32))
    labels[:, -3:] = 255
    samples = _data_samples(labels)

    model.train()
    losses = model.loss(inputs, samples)
    assert {'decode.loss_ce', 'decode.loss_ce_aux', 'decode.acc_seg'} <= set(
        losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    head = model.decode_head
    assert head.conv_seg.convs[3].weight.grad is not None
    assert head.conv_seg_aux.convs[0].weight.grad is not None
    assert model.backbone.layer4[0].conv1.weight.grad is not None

    # output stride 8: features of layer3/layer4 are 4x4 for 32x32 inputs
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        assert feats[2].shape[2:] == feats[3].shape[2:] == (4, 4)
        results = model.predict(inputs, _data_samples(labels))
        primary, aux = head(feats)
    up_p = F.interpolate(primary, (32, 32), mode='bilinear',
                         align_corners=True)
    up_a = F.interpolate(aux, (32, 32), mode='bilinear', align_corners=True)
    expected = (torch.softmax(up_p, 1) + 0.5 * torch.softmax(up_a, 1))
    pred = torch.stack([r.pred_sem_seg.data[0] for r in results])
    assert pred.shape == (2, 32, 32)
    assert torch.equal(pred, expected.argmax(1))

    # heads at 10x the backbone learning rate
    optim_wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9),
            paramwise_cfg=dict(
                custom_keys={'decode_head': dict(lr_mult=10.)})))
    lr_of = {}
    for group in optim_wrapper.optimizer.param_groups:
        for p in group['params']:
            lr_of[id(p)] = group['lr']
    for name, p in model.named_parameters():
        expected_lr = 0.1 if name.startswith('decode_head') else 0.01
        assert lr_of[id(p)] == pytest.approx(expected_lr), name


# ----------------------------------------------------------------------------
# ClassBalancedCrossEntropyLoss
# ----------------------------------------------------------------------------


def test_class_balanced_ce():
    hub = MessageHub.get_current_instance()
    old_iter = hub.get_info('iter')
    try:
        hub.update_info('iter', None)
        _check_class_balanced_ce(hub)
    finally:
        hub.update_info('iter', old_iter)


def _check_class_balanced_ce(hub):
    loss_fn = MODELS.build(
        dict(
            type='ClassBalancedCrossEntropyLoss',
            num_classes=4,
            min_pixels=10,
            loss_name='loss_cb'))
    assert loss_fn.loss_name == 'loss_cb'
    loss_fn.train()
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 6, generator=g)
    # class 0 frequent (> 10 * 2 pixels), class 1 rare, 2 rare, 3 absent
    labels = torch.zeros(2, 6, 6, dtype=torch.long)
    labels[0, 0, :3] = 1
    labels[1, 0, :2] = 2
    labels[1, 5, :] = 255
    out = loss_fn(logits, labels, ignore_index=255)

    often = torch.tensor([1., 1., 1., 0.9 + 0.1 * 7])
    w = torch.tensor([1., 7., 7., 7.]) * often
    torch.testing.assert_close(loss_fn.often_weight, often)
    logp = torch.log_softmax(logits, 1)
    valid = labels != 255
    lab = labels.clamp(max=3)
    nll = -logp.gather(1, lab[:, None])[:, 0]
    expected = (w[lab] * nll)[valid].sum() / w[lab][valid].sum()
    torch.testing.assert_close(out, expected)

    # one update per training iteration when the iteration is known
    hub.update_info('iter', 5)
    loss_fn(logits, labels)
    loss_fn(logits, labels)
    torch.testing.assert_close(loss_fn.often_weight[3],
                               torch.tensor(0.9 * often[3].item() + 0.7))
    hub.update_info('iter', None)
    # no update in eval mode
    loss_fn.eval()
    before = loss_fn.often_weight.clone()
    loss_fn(logits, labels)
    torch.testing.assert_close(loss_fn.often_weight, before)
