"""Per-head outputs of any mmseg segmentor, for UDA losses.

UDA methods need the logits of every classifier of the segmentation network:
MRNet regularises the primary head with the auxiliary one and adapts both
with a discriminator each. mmseg's ``EncoderDecoder`` exposes them in two
ways: our :class:`DualDeepLabV2Head` returns ``(primary, aux)`` from one
decode head, while stock models keep the second classifier in
``auxiliary_head`` (e.g. DeepLabV3+ with an FCN head on layer3).
:func:`forward_heads` hides the difference.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from torch import Tensor


@dataclass
class HeadOutputs:
    """Raw logits of a segmentor's heads for one batch.

    Attributes:
        decode (Tensor | tuple): What ``decode_head.forward`` returned (a
            tuple ``(primary, aux)`` for dual heads).
        auxiliary (list[Tensor]): Outputs of the ``auxiliary_head`` (one per
            auxiliary head); empty without one.
    """
    decode: object
    auxiliary: List[Tensor] = field(default_factory=list)

    @property
    def primary(self) -> Tensor:
        """Logits of the primary classifier."""
        return self.decode[0] if isinstance(self.decode,
                                            (tuple, list)) else self.decode

    @property
    def aux(self) -> Optional[Tensor]:
        """Logits of the auxiliary classifier, or None."""
        if isinstance(self.decode, (tuple, list)):
            return self.decode[1]
        return self.auxiliary[0] if self.auxiliary else None

    def resized(self, size: Sequence[int],
                align_corners: bool = True) -> Dict[str, Tensor]:
        """``{'primary': ..., 'aux': ...}`` bilinearly resized to ``size``.

        The papers upsample both heads to the crop size before every
        adaptation loss and before the discriminators.
        """
        out = {'primary': _resize(self.primary, size, align_corners)}
        if self.aux is not None:
            out['aux'] = _resize(self.aux, size, align_corners)
        return out


def _resize(x: Tensor, size: Sequence[int], align_corners: bool) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(
        x, size=tuple(size), mode='bilinear', align_corners=align_corners)


def _aux_heads(segmentor: nn.Module) -> List[nn.Module]:
    if not getattr(segmentor, 'with_auxiliary_head', False):
        return []
    heads = segmentor.auxiliary_head
    return list(heads) if isinstance(heads, nn.ModuleList) else [heads]


def forward_heads(segmentor: nn.Module, inputs: Tensor) -> HeadOutputs:
    """Run backbone, neck and every head of ``segmentor`` once.

    Args:
        segmentor (nn.Module): An mmseg ``EncoderDecoder``-like model
            (``extract_feat``, ``decode_head`` and optional
            ``auxiliary_head``).
        inputs (Tensor): Normalised images (N, 3, H, W).

    Returns:
        HeadOutputs: The heads' raw logits.
    """
    feats = segmentor.extract_feat(inputs)
    decode = segmentor.decode_head.forward(feats)
    auxiliary = [head.forward(feats) for head in _aux_heads(segmentor)]
    return HeadOutputs(decode=decode, auxiliary=auxiliary)


def head_losses(segmentor: nn.Module, outputs: HeadOutputs,
                data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
    """Supervised losses of every head, computed by the heads themselves.

    Uses each head's ``loss_by_feat`` so its configured ``loss_decode``
    (cross-entropy with ignore index, class weights, ...) applies exactly as
    in plain mmseg training. Keys are prefixed ``decode.`` and ``aux.``
    (``aux_i.`` for several auxiliary heads), like ``EncoderDecoder.loss``.
    """
    losses = {}
    for name, value in segmentor.decode_head.loss_by_feat(
            outputs.decode, data_samples).items():
        losses[f'decode.{name}'] = value
    heads = _aux_heads(segmentor)
    for i, (head, logits) in enumerate(zip(heads, outputs.auxiliary)):
        prefix = 'aux' if len(heads) == 1 else f'aux_{i}'
        for name, value in head.loss_by_feat(logits, data_samples).items():
            losses[f'{prefix}.{name}'] = value
    return losses


def fused_probabilities(segmentor: nn.Module, outputs: HeadOutputs,
                        size: Sequence[int]) -> Tensor:
    """Class probabilities of the segmentor's prediction at ``size``.

    For a head with a ``fuse`` method (e.g. :class:`DualDeepLabV2Head`,
    whose ``fuse`` is :func:`fuse_head_scores` with the head's
    ``fuse_weight`` and ``fuse_mode``) the fused scores are renormalised to
    sum to one per pixel; otherwise the softmax of the primary head.
    """
    head = segmentor.decode_head
    align = getattr(head, 'align_corners', False)
    primary = _resize(outputs.primary, size, align)
    if hasattr(head, 'fuse') and isinstance(outputs.decode, (tuple, list)):
        scores = head.fuse(primary, _resize(outputs.aux, size, align))
        return scores / scores.sum(dim=1, keepdim=True)
    return torch.softmax(primary.float(), dim=1)


def prediction_probabilities(segmentor: nn.Module,
                             seg_logits: Tensor) -> Tensor:
    """Class probabilities from the ``seg_logits`` of a segmentor's
    prediction (``SegDataSample.seg_logits.data``, (C, H, W) or
    (N, C, H, W)).

    A decode head with a ``fuse`` method (e.g. :class:`DualDeepLabV2Head`)
    already predicts fused class scores (non-negative, e.g.
    ``softmax(z_p) + w softmax(z_a)``); they are renormalised to sum to one
    per pixel, like :func:`fused_probabilities`. Any other head predicts
    logits, turned into probabilities by a softmax.

    Args:
        segmentor (nn.Module): The mmseg segmentor, or a model holding it
            as ``segmentor`` (``UDASegmentor``).
        seg_logits (Tensor): The predicted scores.

    Returns:
        Tensor: Probabilities, same shape, float32 or wider.
    """
    segmentor = getattr(segmentor, 'segmentor', segmentor)
    dim = seg_logits.dim() - 3
    scores = seg_logits.float() if seg_logits.dtype in (
        torch.float16, torch.bfloat16) else seg_logits
    if hasattr(segmentor.decode_head, 'fuse'):
        return scores / scores.sum(dim=dim, keepdim=True)
    return torch.softmax(scores, dim=dim)

