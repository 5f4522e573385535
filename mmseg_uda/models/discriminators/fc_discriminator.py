# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Fully-convolutional output-space discriminator (AdaptSegNet)."""
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class FCDiscriminator(BaseModule):
    """Output-space discriminator of AdaptSegNet (Tsai et al., CVPR 2018).

    Five 4x4 convolutions with stride 2 and padding 1, channels
    ``ndf, 2 ndf, 4 ndf, 8 ndf, 1``, LeakyReLU(0.2) between them and no
    normalisation. It maps a (softmax) segmentation map of shape
    (N, num_classes, H, W) to a patch-wise real/fake logit map of shape
    (N, 1, H/32, W/32) (``floor`` at every stage for odd sizes).

    Args:
        num_classes (int): Number of input channels (classes).
        ndf (int): Channels of the first conv. Default: 64.
        negative_slope (float): Slope of the LeakyReLU. Default: 0.2.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Default: None (PyTorch's default init, as in AdaptSegNet).
    """

    def __init__(self,
                 num_classes: int,
                 ndf: int = 64,
                 negative_slope: float = 0.2,
                 init_cfg=None):
        super().__init__(init_cfg)
        channels = [num_classes, ndf, ndf * 2, ndf * 4, ndf * 8, 1]
        layers = []
        for i in range(5):
            layers.append(
                nn.Conv2d(
                    channels[i],
                    channels[i + 1],
                    kernel_size=4,
                    stride=2,
                    padding=1))
            if i < 4:
                layers.append(
                    nn.LeakyReLU(negative_slope=negative_slope, inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Forward function.

        Args:
            x (Tensor): Class scores (N, num_classes, H, W).

        Returns:
            Tensor: Logits of shape (N, 1, H/32, W/32).
        """
        return self.layers(x)
