"""What a UDA part needs of the target images.

Every adaptation part of ``UDASegmentor`` declares, as a class attribute
``target_use``, what it does with the target half of a training batch:

- :data:`FORWARD`: its loss is computed on the student's logits of (views
  of) the target images, so the step makes one student forward pass on
  them, with gradients (``OutputSpaceAdversary``,
  ``AugmentationConsistency``; ``MemoryRegLoss`` when the segmentor applies
  it to the target batch, ``memory_reg_on='target'``);
- :data:`BN_STATS`: the target images only pass through the student,
  without loss or gradient, for the BN running statistics (the ABN target
  pass, :class:`TargetBNPass`).

``UDASegmentor.target_uses`` collects the declarations of the configured
parts; whether a batch needs a target part, which parts need it (error
messages, ``check_uda_dataset``) and whether the step makes a target
forward pass are all read from it.
"""
import torch
import torch.nn as nn
from torch import Tensor

from .student_outputs import forward_heads

#: a student forward pass on the target images, with gradients
FORWARD = 'forward'
#: the target images only for the student's BN statistics (no gradient)
BN_STATS = 'bn_stats'


class TargetBNPass:
    """The ABN target pass (SAC's pre-training, ``update_target_bn_stats``):
    target images go through the whole student (backbone, neck, decode and
    auxiliary heads) in train mode, no loss, no gradient, so the running
    statistics of every BN layer, those of the heads included (e.g.
    SegFormer's), average over both domains."""

    target_use = BN_STATS

    @torch.no_grad()
    def __call__(self, segmentor: nn.Module, target_inputs: Tensor) -> None:
        """Forward ``target_inputs`` (B, 3, H, W) through ``segmentor``."""
        forward_heads(segmentor, target_inputs)
