# Copyright (c) OpenMMLab. All rights reserved.
"""VGG-16 backbone of DeepLabv2 (output stride 8)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg.registry import MODELS


@MODELS.register_module()
class VGG16DeepLabV2(BaseModule):
    """VGG-16 of DeepLabv2 (Chen et al., TPAMI 2018), as used by SAC.

    The VGG-16 feature extractor with pool4 and pool5 removed and the three
    conv5 layers dilated by 2, followed by ``fc6`` and ``fc7`` re-cast as
    3x3 convolutions with 1024 channels and dilation 4 (each + ReLU and
    optional dropout). The output stride is 8.

    Paper vs. release: the release uses VGG-16 with BatchNorm
    (``norm_cfg=dict(type='BN')`` or ``'SyncBN'``); the original DeepLabv2
    VGG-16 has none (``norm_cfg=None``, the default).

    The layers of ``self.features`` keep torchvision's indices (pool4 and
    pool5 are replaced by parameter-free ``nn.Identity``), so ImageNet
    weights of torchvision's ``vgg16`` / ``vgg16_bn`` load directly, e.g.
    ``init_cfg=dict(type='Pretrained', checkpoint='torchvision://vgg16_bn')``
    (its ``classifier.*`` entries are ignored; fc6 / fc7 are trained anew).

    Outputs (``out_indices``), each taken after the stage's last ReLU:

    ====== ======= ======== ======
    index  stage   channels stride
    ====== ======= ======== ======
    0      conv1   64       1
    1      conv2   128      2
    2      conv3   256      4
    3      conv4   512      8
    4      conv5   512      8
    5      fc7     1024     8
    ====== ======= ======== ======

    Args:
        in_channels (int): Input channels. Defaults to 3.
        out_indices (Sequence[int]): Outputs, see the table. Defaults to
            (5, ) (fc7, the input of the DeepLabv2 ASPP head).
        fc_channels (int): Channels of fc6 / fc7. Defaults to 1024.
        fc_dilation (int): Dilation of fc6 / fc7. Defaults to 4.
        conv5_dilation (int): Dilation of the conv5 layers. Defaults to 2.
        fc_norm (bool): Whether fc6 / fc7 also get ``norm_cfg`` layers.
            Defaults to False.
        dropout_ratio (float): Dropout after fc6 and fc7 (0 disables).
            Defaults to 0.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict, optional): Norm config of the VGG convolutions
            (None: plain VGG-16). Defaults to None.
        norm_eval (bool): Whether to keep the norm layers in eval mode
            (frozen running statistics) in training. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None.
    """

    # torchvision's VGG-16 configuration ('M': 2x2 max pooling)
    arch = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
            512, 512, 512, 'M')

    def __init__(self,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (5, ),
                 fc_channels: int = 1024,
                 fc_dilation: int = 4,
                 conv5_dilation: int = 2,
                 fc_norm: bool = False,
                 dropout_ratio: float = 0.,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(6) for i in out_indices):
            raise ValueError(
                f'out_indices must be a non-empty subset of 0..5, got '
                f'{out_indices}')
        self.out_indices = out_indices
        self.norm_eval = norm_eval

        layers: List[nn.Module] = []
        # index in ``features`` after the last ReLU of each conv stage
        self._stage_ends: List[int] = []
        stage, channels = 0, in_channels
        for v in self.arch:
            if v == 'M':
                self._stage_ends.append(len(layers))
                # pool4 (after stage index 3) and pool5 are removed
                layers.append(nn.Identity() if stage >=
                              3 else nn.MaxPool2d(2, 2))
                stage += 1
                continue
            dilation = conv5_dilation if stage == 4 else 1
            layers.append(
                build_conv_layer(
                    conv_cfg,
                    channels,
                    v,
                    kernel_size=3,
                    padding=dilation,
                    dilation=dilation))
            if norm_cfg is not None:
                layers.append(build_norm_layer(norm_cfg, v)[1])
            layers.append(nn.ReLU(inplace=True))
            channels = v
        self.features = nn.Sequential(*layers)

        def fc(in_ch: int) -> nn.Sequential:
            mods = [
                build_conv_layer(
                    conv_cfg,
                    in_ch,
                    fc_channels,
                    kernel_size=3,
                    padding=fc_dilation,
                    dilation=fc_dilation)
            ]
            if fc_norm and norm_cfg is not None:
                mods.append(build_norm_layer(norm_cfg, fc_channels)[1])
            mods.append(nn.ReLU(inplace=True))
            if dropout_ratio > 0:
                mods.append(nn.Dropout2d(dropout_ratio))
            return nn.Sequential(*mods)

        self.fc6 = fc(channels)
        self.fc7 = fc(fc_channels)
        self.out_channels = (64, 128, 256, 512, 512, fc_channels)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Forward function.

        Args:
            x (Tensor): Images (N, in_channels, H, W).

        Returns:
            tuple[Tensor]: Feature maps of ``out_indices``, in that order.
        """
        outs = {}
        start = 0
        for stage, end in enumerate(self._stage_ends):
            for layer in self.features[start:end]:
                x = layer(x)
            if stage in self.out_indices:
                outs[stage] = x
            start = end
        if 5 in self.out_indices:
            x = self.features[start:](x)  # the removed pool5 (identity)
            outs[5] = self.fc7(self.fc6(x))
        return tuple(outs[i] for i in self.out_indices)

    def train(self, mode: bool = True) -> 'VGG16DeepLabV2':
        """Set train mode, keeping the norm layers in eval if ``norm_eval``."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
