# Copyright (c) mmseg_uda contributors. All rights reserved.
"""DeepLabv2 decode head with a primary and an auxiliary ASPP classifier.

This is the two-classifier DeepLabv2 layout used by AdaptSegNet (Tsai et al.,
CVPR 2018) and MRNet (Zheng & Yang, IJCAI 2020, "Unsupervised Scene
Adaptation with Memory Regularization in vivo").
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from .head_fusion import FUSE_MODES, fuse_head_scores


class DeepLabV2Classifier(nn.Module):
    """DeepLabv2 ASPP classifier (ASPP-L): a sum of dilated 3x3 convolutions.

    Every branch maps the input features straight to class logits and the
    branch outputs are summed:

    .. math::
        z = \\sum_{d \\in \\{6, 12, 18, 24\\}} W_d *_d x + b_d

    where :math:`*_d` is a 3x3 convolution with dilation (and padding)
    :math:`d`. Note that AdaptSegNet's public implementation returned after
    the second branch (only dilations 6 and 12 counted); this module sums all
    of them, as in DeepLabv2 and the MRNet paper.

    Args:
        in_channels (int): Number of input feature channels.
        out_channels (int): Number of output channels (classes).
        dilations (Sequence[int]): Dilation (= padding) of every 3x3 branch.
            Default: (6, 12, 18, 24).
        conv_cfg (dict | None): Config of the conv layers. Default: None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 conv_cfg=None):
        super().__init__()
        assert len(dilations) > 0, 'at least one dilation is required'
        self.dilations = tuple(dilations)
        self.convs = nn.ModuleList([
            build_conv_layer(
                conv_cfg,
                in_channels,
                out_channels,
                kernel_size=3,
                stride=1,
                padding=d,
                dilation=d,
                bias=True) for d in self.dilations
        ])

    def forward(self, x: Tensor) -> Tensor:
        """Sum of the branch outputs, shape (N, out_channels, H, W)."""
        out = self.convs[0](x)
        for conv in self.convs[1:]:
            out = out + conv(x)
        return out


@MODELS.register_module()
class DualDeepLabV2Head(BaseDecodeHead):
    """DeepLabv2 head with a primary and an auxiliary classifier (MRNet).

    Two :class:`DeepLabV2Classifier` (sum of four dilated 3x3 convs going
    straight to logits) read two backbone stages: the auxiliary classifier
    :math:`C_a` reads ``layer3`` and the primary classifier :math:`C_p` reads
    ``layer4`` (the AdaptSegNet layout followed by the paper). A
    ``Dropout2d`` precedes both classifiers.

    Training (paper, Sec. 3.2/3.4) on labelled pixels:

    .. math::
        L_{seg} = CE(F_p(x), y) + \\lambda_{aux} CE(F_a(x), y),
        \\quad \\lambda_{aux} = 0.5

    where both logit maps are bilinearly resized to the label size first.

    Inference (paper, Sec. 4.1):

    .. math::
        \\hat{y} = \\arg\\max_c \\big(\\sigma(z_p) + w\\, \\sigma(z_a)\\big),
        \\quad w = 0.5

    with :math:`\\sigma` the softmax over classes (``fuse_mode='prob'``,
    paper). The authors' release fuses logits instead,
    :math:`\\sigma(z_p + w z_a)` (``fuse_mode='logit'``, release).
    :meth:`predict_by_feat` returns the fused map, so that
    ``EncoderDecoder.predict`` (argmax over channels) yields :math:`\\hat{y}`.

    :meth:`forward` returns ``(primary_logits, aux_logits)`` at feature
    resolution; a UDA segmentor uses this pair for the adversarial and
    memory-regularisation terms.

    Args:
        in_channels (Sequence[int]): Channels of the two selected stages,
            ordered ``(aux, primary)``. Default: (1024, 2048) (ResNet-101
            ``layer3``, ``layer4``).
        in_index (Sequence[int]): Backbone output indices of the two stages,
            ordered ``(aux, primary)``. Default: (2, 3).
        dilations (Sequence[int]): Dilations of the ASPP branches.
            Default: (6, 12, 18, 24).
        aux_weight (float): Weight :math:`\\lambda_{aux}` of the auxiliary
            segmentation loss. Default: 0.5.
        fuse_weight (float): Weight :math:`w` of the auxiliary prediction at
            inference. Default: 0.5.
        fuse_mode (str): ``'prob'`` (paper: softmax probabilities are fused)
            or ``'logit'`` (release: softmax of fused logits).
            Default: 'prob'.
        primary_concat_aux (bool): If True, the primary classifier reads
            ``concat(layer4, layer3)`` (the authors' release; 3072 channels
            for ResNet-101) instead of ``layer4`` alone (paper).
            Default: False.
        aux_suffix (str): Suffix appended to the loss names (and to
            ``acc_seg``) of the auxiliary classifier. Default: '_aux'.
        dropout_ratio (float): Rate of the ``Dropout2d`` before each
            classifier (0.1 in stage I, 0.2 in the release's stage II).
            Default: 0.1.
        init_cfg (dict | list[dict]): Initialisation config. Default: normal
            init (std 0.01, bias 0) of every conv, as in DeepLabv2.
        **kwargs: Other arguments of :class:`BaseDecodeHead` (``num_classes``
            is required; ``loss_decode``, ``ignore_index``, ``align_corners``,
            ``sampler``, ``conv_cfg`` ...). ``channels`` and
            ``input_transform`` are fixed by this head and ignored.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (1024, 2048),
                 in_index: Sequence[int] = (2, 3),
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 aux_weight: float = 0.5,
                 fuse_weight: float = 0.5,
                 fuse_mode: str = 'prob',
                 primary_concat_aux: bool = False,
                 aux_suffix: str = '_aux',
                 init_cfg=dict(type='Normal', std=0.01, bias=0,
                               layer='Conv2d'),
                 **kwargs):
        assert isinstance(in_channels, (list, tuple)) and \
            len(in_channels) == 2, \
            'in_channels must be (aux_channels, primary_channels)'
        assert isinstance(in_index, (list, tuple)) and len(in_index) == 2, \
            'in_index must be (aux_index, primary_index)'
        assert fuse_mode in FUSE_MODES, \
            f'fuse_mode must be "prob" or "logit", got {fuse_mode}'
        # The classifiers map features straight to logits, so ``channels``
        # has no meaning here; accept and drop it (and ``input_transform``)
        # so that configs derived from other heads still build.
        kwargs.pop('channels', None)
        kwargs.pop('input_transform', None)
        super().__init__(
            in_channels=list(in_channels),
            channels=1,
            in_index=list(in_index),
            input_transform='multiple_select',
            init_cfg=init_cfg,
            **kwargs)
        if self.out_channels != self.num_classes:
            raise NotImplementedError(
                'DualDeepLabV2Head supports multi-class (softmax) outputs '
                'only; out_channels must equal num_classes.')
        self.dilations = tuple(dilations)
        self.aux_weight = aux_weight
        self.fuse_weight = fuse_weight
        self.fuse_mode = fuse_mode
        self.primary_concat_aux = primary_concat_aux
        self.aux_suffix = aux_suffix

        aux_channels, primary_channels = self.in_channels
        if primary_concat_aux:
            primary_channels = primary_channels + aux_channels
        # ``conv_seg`` keeps mmseg's name for the (primary) classifier.
        self.conv_seg = DeepLabV2Classifier(
            primary_channels,
            self.out_channels,
            dilations=self.dilations,
            conv_cfg=self.conv_cfg)
        self.conv_seg_aux = DeepLabV2Classifier(
            aux_channels,
            self.out_channels,
            dilations=self.dilations,
            conv_cfg=self.conv_cfg)

    def extra_repr(self):
        """Extra repr."""
        return (super().extra_repr() + f', aux_weight={self.aux_weight}, '
                f'fuse_weight={self.fuse_weight}, '
                f'fuse_mode={self.fuse_mode}, '
                f'primary_concat_aux={self.primary_concat_aux}')

    def cls_seg(self, feat: Tensor, aux: bool = False) -> Tensor:
        """Dropout then the primary (or, if ``aux``, auxiliary) classifier."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        classifier = self.conv_seg_aux if aux else self.conv_seg
        return classifier(feat)

    def forward(self, inputs: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Compute both logit maps.

        Args:
            inputs (list[Tensor]): Multi-level backbone features.

        Returns:
            tuple[Tensor, Tensor]: ``(primary_logits, aux_logits)``, each of
            shape (N, num_classes, H, W) at the resolution of the selected
            features.
        """
        aux_feat, primary_feat = self._transform_inputs(inputs)
        if self.primary_concat_aux:
            if aux_feat.shape[2:] != primary_feat.shape[2:]:
                aux_in = resize(
                    aux_feat,
                    size=primary_feat.shape[2:],
                    mode='bilinear',
                    align_corners=self.align_corners)
            else:
                aux_in = aux_feat
            primary_feat = torch.cat([primary_feat, aux_in], dim=1)
        primary = self.cls_seg(primary_feat)
        aux = self.cls_seg(aux_feat, aux=True)
        return primary, aux

    def _seg_losses(self, seg_logits: Tensor, seg_label: Tensor,
                    weight: float, suffix: str) -> dict:
        """Weighted ``loss_decode`` terms and accuracy of one classifier.

        Args:
            seg_logits (Tensor): Logits already resized to the label size,
                shape (N, C, H, W).
            seg_label (Tensor): Labels of shape (N, 1, H, W).
            weight (float): Multiplier of every loss term.
            suffix (str): Suffix appended to the loss and accuracy names.
        """
        if self.sampler is not None:
            seg_weight = self.sampler.sample(seg_logits, seg_label)
        else:
            seg_weight = None
        seg_label = seg_label.squeeze(1)

        if not isinstance(self.loss_decode, nn.ModuleList):
            losses_decode = [self.loss_decode]
        else:
            losses_decode = self.loss_decode
        losses = dict()
        for loss_decode in losses_decode:
            name = loss_decode.loss_name + suffix
            value = weight * loss_decode(
                seg_logits,
                seg_label,
                weight=seg_weight,
                ignore_index=self.ignore_index)
            if name in losses:
                losses[name] = losses[name] + value
            else:
                losses[name] = value
        losses['acc_seg' + suffix] = accuracy(
            seg_logits, seg_label, ignore_index=self.ignore_index)
        return losses

    def loss_by_feat(self, seg_logits: Tuple[Tensor, Tensor],
                     batch_data_samples: SampleList) -> dict:
        """Segmentation losses of both classifiers.

        ``L = CE(z_p, y) + aux_weight * CE(z_a, y)``, each logit map being
        bilinearly resized to the label size first (``align_corners`` as
        configured).

        Args:
            seg_logits (tuple[Tensor, Tensor]): ``(primary, aux)`` logits
                from :meth:`forward`.
            batch_data_samples (list[:obj:`SegDataSample`]): Data samples
                with ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: e.g. ``loss_ce``, ``acc_seg`` (primary) and
            ``loss_ce_aux`` (already multiplied by ``aux_weight``),
            ``acc_seg_aux``.
        """
        primary, aux = seg_logits
        seg_label = self._stack_batch_gt(batch_data_samples)
        losses = dict()
        for logits, weight, suffix in ((primary, 1.0, ''),
                                       (aux, self.aux_weight,
                                        self.aux_suffix)):
            logits = resize(
                input=logits,
                size=seg_label.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
            losses.update(
                self._seg_losses(logits, seg_label, weight, suffix))
        return losses

    def predict_by_feat(self, seg_logits: Tuple[Tensor, Tensor],
                        batch_img_metas: List[dict]) -> Tensor:
        """Fused class scores resized to the input shape.

        Both logit maps are resized (as in :class:`BaseDecodeHead`) and then
        fused: ``softmax(z_p) + fuse_weight * softmax(z_a)`` for
        ``fuse_mode='prob'`` (paper) or ``softmax(z_p + fuse_weight * z_a)``
        for ``fuse_mode='logit'`` (release).

        Args:
            seg_logits (tuple[Tensor, Tensor]): ``(primary, aux)`` logits
                from :meth:`forward`.
            batch_img_metas (list[dict]): Meta information of each image.

        Returns:
            Tensor: Fused scores of shape (N, num_classes, H, W); its argmax
            over channels is the prediction.
        """
        primary, aux = seg_logits
        primary = super().predict_by_feat(primary, batch_img_metas)
        aux = super().predict_by_feat(aux, batch_img_metas)
        return self.fuse(primary, aux)

    def fuse(self, primary: Tensor, aux: Tensor) -> Tensor:
        """Fuse primary and auxiliary logits of the same size into scores.

        Args:
            primary (Tensor): Primary logits (N, C, H, W).
            aux (Tensor): Auxiliary logits (N, C, H, W).

        Returns:
            Tensor: ``softmax(primary) + w * softmax(aux)`` (``'prob'``) or
            ``softmax(primary + w * aux)`` (``'logit'``).
        """
        return fuse_head_scores(primary, aux, self.fuse_weight,
                                self.fuse_mode)
