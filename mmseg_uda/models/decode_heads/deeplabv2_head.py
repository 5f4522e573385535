# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Single-classifier DeepLabv2 decode head (ASPP-L sum, as used by SAC)."""
from typing import Sequence

from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from .dual_deeplabv2_head import DeepLabV2Classifier


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """DeepLabv2 head with one ASPP classifier on one backbone stage.

    The DeepLabv2 (Chen et al., TPAMI 2018) classifier used by SAC
    (Araslanov & Roth, CVPR 2021) for both backbones: four 3x3 convolutions
    with dilations 6/12/18/24 applied to the same features, mapping them
    straight to class logits, summed (:class:`DeepLabV2Classifier`). Unlike
    mmseg's ``ASPPHead`` (DeepLabv3: concatenation + bottleneck) there is no
    intermediate feature map; unlike :class:`DualDeepLabV2Head` (MRNet,
    AdaptSegNet) there is no auxiliary classifier.

    Training and inference are those of :class:`BaseDecodeHead`:
    ``loss_decode`` on the logits resized to the label size, and argmax of
    the logits resized to the input at test time.

    Args:
        in_channels (int): Channels of the selected stage (2048 for
            ResNet-101 ``layer4``, 1024 for VGG-16 ``fc7``).
        in_index (int): Backbone output index of that stage. Default: -1.
        dilations (Sequence[int]): Dilations of the branches.
            Default: (6, 12, 18, 24).
        dropout_ratio (float): Rate of a ``Dropout2d`` before the classifier
            (0 disables it; DeepLabv2 has none). Default: 0.
        init_cfg (dict | list[dict]): Initialisation config. Default: normal
            init (std 0.01, bias 0) of every conv, as in DeepLabv2.
        **kwargs: Other arguments of :class:`BaseDecodeHead`
            (``num_classes`` is required). ``channels`` and
            ``input_transform`` are fixed by this head and ignored.
    """

    def __init__(self,
                 in_channels: int = 2048,
                 in_index: int = -1,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 dropout_ratio: float = 0.,
                 init_cfg=dict(type='Normal', std=0.01, bias=0,
                               layer='Conv2d'),
                 **kwargs):
        assert isinstance(in_channels, int), \
            'DeepLabV2Head reads one stage: in_channels must be an int'
        assert isinstance(in_index, int), \
            'DeepLabV2Head reads one stage: in_index must be an int'
        # The classifier maps features straight to logits: ``channels`` has
        # no meaning here (accepted so configs of other heads still build).
        kwargs.pop('channels', None)
        kwargs.pop('input_transform', None)
        super().__init__(
            in_channels=in_channels,
            channels=1,
            in_index=in_index,
            input_transform=None,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        self.dilations = tuple(dilations)
        # ``conv_seg`` keeps mmseg's name for the classifier, so BaseDecodeHead
        # ``cls_seg`` (dropout + conv_seg) applies unchanged.
        self.conv_seg = DeepLabV2Classifier(
            in_channels,
            self.out_channels,
            dilations=self.dilations,
            conv_cfg=self.conv_cfg)

    def forward(self, inputs) -> Tensor:
        """Logits (N, out_channels, H, W) at the resolution of the stage."""
        return self.cls_seg(self._transform_inputs(inputs))
