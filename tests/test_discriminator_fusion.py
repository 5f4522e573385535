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
