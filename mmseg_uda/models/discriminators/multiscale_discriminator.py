# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Multi-scale output-space discriminator (MRNet release)."""
from typing import List

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS


def _conv3x3(in_channels: int, out_channels: int, stride: int,
             padding_mode: str) -> nn.Conv2d:
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size=3,
        stride=stride,
        padding=1,
        padding_mode=padding_mode)


class _ResidualBlock(nn.Module):
    """``x + conv3(lrelu(conv3(x)))``, no normalisation."""

    def __init__(self, channels: int, negative_slope: float,
                 padding_mode: str):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels, 1, padding_mode)
        self.act = nn.LeakyReLU(negative_slope)
        self.conv2 = _conv3x3(channels, channels, 1, padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


@MODELS.register_module()
class MultiScaleDiscriminator(BaseModule):
    """Multi-scale PatchGAN-style discriminator of MRNet's release.

    The paper only states that it "follows PatchGAN and deploys the
    multi-scale discriminator"; the architecture below is the one of the
    authors' release. ``num_scales`` identical (not shared) sub-networks
    read the input at full, 1/2, 1/4 ... resolution; between scales the
    input is downsampled by a 3x3 average pool with stride 2 (padding 1,
    ``count_include_pad=False``). Each sub-network is (``num_layers=2``)::

        conv3 s2 (C -> d), conv3 s1, conv3 s2, conv3 s1, conv3 s2 (-> 2d),
        num_res_blocks x [x + conv3(lrelu(conv3(x)))], conv1x1 (-> 1)

    with ``d = base_channels = 32``, LeakyReLU(0.2) after every plain conv,
    no normalisation, zero padding and N(0, 0.02) weights / zero biases.
    Every sub-network downsamples by 8, so scale ``s`` gives a map of about
    (H / 2^(s+3), W / 2^(s+3)).

    Padding: the release's convolution block declares reflect padding but
    has its padding layer commented out, so its 3x3 convs pad with zeros
    (``padding_mode='zeros'``, the default). ``padding_mode='reflect'``
    is the padding that block was written for; with it the coarsest
    feature map must be at least 2x2, i.e. H, W >= 2^(num_scales+3) (64
    for three scales).

    It is meant for the least-squares GAN loss with the R1 penalty
    (:class:`GANLoss` with ``gan_type='lsgan'`` and
    :func:`r1_gradient_penalty`), where the per-scale terms are summed.

    Args:
        num_classes (int): Number of input channels (classes).
        num_scales (int): Number of scales. Default: 3.
        base_channels (int): Channels ``d`` of the first convs. Default: 32.
        num_layers (int): Number of stride-2 stages after the stem
            (``conv3 s2, conv3 s1``); stage ``i >= 1`` is
            ``conv3 s1, conv3 s2`` doubling the channels (at most 512).
            Default: 2.
        num_res_blocks (int): Residual blocks per scale. Default: 4.
        negative_slope (float): Slope of the LeakyReLU. Default: 0.2.
        padding_mode (str): Padding of the 3x3 convs, ``'zeros'``
            (release) or ``'reflect'``. Default: 'zeros'.
        init_cfg (dict | list[dict]): Initialisation config. Default:
            N(0, 0.02) weights and zero biases of all convs.
    """

    def __init__(self,
                 num_classes: int,
                 num_scales: int = 3,
                 base_channels: int = 32,
                 num_layers: int = 2,
                 num_res_blocks: int = 4,
                 negative_slope: float = 0.2,
                 padding_mode: str = 'zeros',
                 init_cfg=dict(type='Normal', std=0.02, bias=0,
                               layer='Conv2d')):
        super().__init__(init_cfg)
        assert num_scales >= 1 and num_layers >= 1
        if padding_mode not in ('zeros', 'reflect'):
            raise ValueError("padding_mode must be 'zeros' or 'reflect', got "
                             f'{padding_mode!r}')
        self.num_scales = num_scales
        self.downsample = nn.AvgPool2d(
            kernel_size=3, stride=2, padding=1, count_include_pad=False)
        self.scales = nn.ModuleList([
            self._make_scale(num_classes, base_channels, num_layers,
                             num_res_blocks, negative_slope, padding_mode)
            for _ in range(num_scales)
        ])

    @staticmethod
    def _make_scale(in_channels: int, channels: int, num_layers: int,
                    num_res_blocks: int, negative_slope: float,
                    padding_mode: str) -> nn.Sequential:
        # (in, out, stride) of the plain 3x3 convs
        specs = [(in_channels, channels, 2), (channels, channels, 1),
                 (channels, channels, 2)]
        for _ in range(num_layers - 1):
            out_channels = min(channels * 2, 512)
            specs += [(channels, channels, 1), (channels, out_channels, 2)]
            channels = out_channels
        layers = []
        for cin, cout, stride in specs:
            layers += [
                _conv3x3(cin, cout, stride, padding_mode),
                nn.LeakyReLU(negative_slope)
            ]
        layers += [
            _ResidualBlock(channels, negative_slope, padding_mode)
            for _ in range(num_res_blocks)
        ]
        layers.append(nn.Conv2d(channels, 1, kernel_size=1))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> List[Tensor]:
        """Forward function.

        Args:
            x (Tensor): Class scores (N, num_classes, H, W).

        Returns:
            list[Tensor]: ``num_scales`` logit maps of shape (N, 1, h_s, w_s),
            finest first.
        """
        outputs = []
        for i, net in enumerate(self.scales):
            outputs.append(net(x))
            if i < self.num_scales - 1:
                x = self.downsample(x)
        return outputs
