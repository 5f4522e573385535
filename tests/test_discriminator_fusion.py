# Copyright (c) mmseg_uda contributors. All rights reserved.
"""MultiScaleDiscriminator pads like MRNet's release (zeros); one owner of
the dual-head fusion."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import MODELS


def _reference_forward(disc, x, padding_mode):
    """The multi-scale discriminator written out with functional ops:
    3x3 convs padded by 1 (``'zeros'`` or ``'reflect'``), LeakyReLU(0.2),
    residual blocks ``x + conv(lrelu(conv(x)))``, average pooling 3/2/1
    between scales."""

    def conv(m, y):
        if m.kernel_size == (3, 3):
            if padding_mode == 'reflect':
                y = F.pad(y, (1, 1, 1, 1), mode='reflect')
            else:
                y = F.pad(y, (1, 1, 1, 1))
        return F.conv2d(y, m.weight, m.bias, stride=m.stride)

    outs = []
    for s, net in enumerate(disc.scales):
        y = x
        for m in net:
            if isinstance(m, nn.Conv2d):
                y = conv(m, y)
            elif isinstance(m, nn.LeakyReLU):
                y = F.leaky_relu(y, 0.2)
            else:  # residual block
                y = y + conv(m.conv2, F.leaky_relu(conv(m.conv1, y), 0.2))
        outs.append(y)
        x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    return outs


@pytest.mark.parametrize('padding_mode', [None, 'zeros', 'reflect'])
def test_multiscale_discriminator_padding(padding_mode):
    torch.manual_seed(0)
    cfg = dict(type='MultiScaleDiscriminator', num_classes=4, num_scales=2)
    if padding_mode is not None:
        cfg['padding_mode'] = padding_mode
    disc = MODELS.build(cfg)
    disc.init_weights()
    for m in disc.modules():  # non-zero biases: padding matters more
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.bias, std=0.1)
    x = torch.softmax(torch.randn(2, 4, 64, 64), dim=1)
    with torch.no_grad():
        outs = disc(x)
        ref = _reference_forward(disc, x, padding_mode or 'zeros')
        other = _reference_forward(
            disc, x, 'reflect' if padding_mode in (None, 'zeros') else 'zeros')
    for out, r, o in zip(outs, ref, other):
        torch.testing.assert_close(out, r, atol=1e-5, rtol=1e-5)
        assert (out - o).abs().max() > 1e-3


def test_multiscale_discriminator_rejects_other_padding():
    with pytest.raises(ValueError, match='padding_mode'):
        MODELS.build(dict(type='MultiScaleDiscriminator', num_classes=4,
                          padding_mode='replicate'))


# ----------------------------------------------------------------------------
# one owner of the dual-head fusion, with the head's fuse_weight
# ----------------------------------------------------------------------------


def _dual_uda(fuse_weight, fuse_mode, **kwargs):
    from conftest import data_preprocessor_cfg, segmentor_cfg
    from mmengine.config import ConfigDict
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    seg = segmentor_cfg('dual')
    seg['decode_head'].update(fuse_weight=fuse_weight, fuse_mode=fuse_mode)
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(
        type='UDASegmentor', segmentor=seg,
        data_preprocessor=data_preprocessor_cfg(), **kwargs))


def _expected(zp, za, w, mode):
    """(softmax(z_p) + w softmax(z_a)) / (1 + w) or softmax(z_p + w z_a),
    in float64."""
    zp, za = zp.double(), za.double()
    if mode == 'prob':
        return (torch.softmax(zp, 1) + w * torch.softmax(za, 1)) / (1 + w)
    return torch.softmax(zp + w * za, 1)


@pytest.mark.parametrize('mode', ['prob', 'logit'])
def test_head_fuse_and_fused_probabilities_use_fuse_weight(mode):
    from mmseg_uda.models.uda.student_outputs import (forward_heads,
                                                      fused_probabilities)
    model = _dual_uda(0.3, mode)
    seg = model.segmentor
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        out = forward_heads(seg, x)
        zp, za = out.primary, out.aux
        expected = _expected(zp, za, 0.3, mode)
        scale = 1.3 if mode == 'prob' else 1.0
        torch.testing.assert_close(seg.decode_head.fuse(zp, za).double(),
                                   expected * scale)
        probs = fused_probabilities(seg, out, zp.shape[-2:])
        torch.testing.assert_close(probs.double(), expected)


@pytest.mark.parametrize('fuse_weight', [0.5, 0.3])
def test_adversary_fused_real_map_uses_head_fuse_weight(fuse_weight):
    from conftest import adversary_cfg
    model = _dual_uda(fuse_weight, 'prob',
                      adversary=adversary_cfg(real_input='fused'))
    assert model.adversary.fuse_weight == fuse_weight
    zp, za = torch.randn(2, 5, 8, 8), torch.randn(2, 5, 8, 8)
    real = model.adversary._real_map('aux', dict(primary=zp, aux=za))
    # the release's real map: softmax(z_p + w z_a), w the head's weight
    torch.testing.assert_close(real.double(),
                               _expected(zp, za, fuse_weight, 'logit'))
