# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Adversarial (GAN) loss and the R1 gradient penalty for output-space
domain adaptation (AdaptSegNet / MRNet discriminators)."""
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

DiscriminatorOutput = Union[Tensor, Sequence[Tensor]]


def _as_list(preds: DiscriminatorOutput) -> list:
    if isinstance(preds, Tensor):
        return [preds]
    assert isinstance(preds, (list, tuple)) and len(preds) > 0, \
        'discriminator outputs must be a Tensor or a non-empty sequence'
    return list(preds)


@MODELS.register_module()
class GANLoss(nn.Module):
    """GAN loss on discriminator outputs (logits).

    With :math:`d` the discriminator output map and :math:`y` the target
    label (``real_label`` or ``fake_label``), averaged over all elements:

    - ``gan_type='vanilla'`` (AdaptSegNet):
      :math:`L = -\\mathrm{mean}\\,[y \\log \\sigma(d) +
      (1 - y) \\log (1 - \\sigma(d))]` (BCE with logits);
    - ``gan_type='lsgan'`` (least squares; MRNet's release):
      :math:`L = \\mathrm{mean}\\,(d - y)^2`.

    For a multi-scale discriminator ``pred`` is a list of maps and the
    per-scale losses are summed, :math:`L = \\sum_s L(d_s)`. (The release's
    generator term is :math:`\\sum_s 2\\,\\mathrm{mean}(d_s - 1)^2`, i.e.
    ``lsgan`` with ``loss_weight=2``.) The loss is computed in float32.

    Generator (adversarial) term: ``loss(D(target_pred), True)``;
    discriminator terms: ``loss(D(source), True)`` and
    ``loss(D(target.detach()), False)``.

    Args:
        gan_type (str): ``'vanilla'`` or ``'lsgan'``. Default: 'vanilla'.
        real_label (float): Target value for real inputs. Default: 1.0.
        fake_label (float): Target value for fake inputs. Default: 0.0.
        loss_weight (float): Weight of the loss. Default: 1.0.
        loss_name (str): Name of the loss item. Default: 'loss_gan'.
    """

    def __init__(self,
                 gan_type: str = 'vanilla',
                 real_label: float = 1.0,
                 fake_label: float = 0.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_gan'):
        super().__init__()
        assert gan_type in ('vanilla', 'lsgan'), \
            f'gan_type must be "vanilla" or "lsgan", got {gan_type}'
        self.gan_type = gan_type
        self.real_label = float(real_label)
        self.fake_label = float(fake_label)
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def extra_repr(self):
        """Extra repr."""
        return (f'gan_type={self.gan_type}, real_label={self.real_label}, '
                f'fake_label={self.fake_label}, '
                f'loss_weight={self.loss_weight}')

    def _single(self, pred: Tensor, target_is_real: bool) -> Tensor:
        pred = pred.float()
        value = self.real_label if target_is_real else self.fake_label
        target = torch.full_like(pred, value)
        if self.gan_type == 'vanilla':
            return F.binary_cross_entropy_with_logits(pred, target)
        return F.mse_loss(pred, target)

    def forward(self, pred: DiscriminatorOutput,
                target_is_real: bool) -> Tensor:
        """Forward function.

        Args:
            pred (Tensor | Sequence[Tensor]): Discriminator output logits, or
                one map per scale (summed).
            target_is_real (bool): Whether the target is ``real_label``
                (True) or ``fake_label`` (False).

        Returns:
            Tensor: The weighted scalar loss.
        """
        preds = _as_list(pred)
        loss = self._single(preds[0], target_is_real)
        for p in preds[1:]:
            loss = loss + self._single(p, target_is_real)
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Name of the loss item."""
        return self._loss_name


def r1_gradient_penalty(real_preds: DiscriminatorOutput,
                        real_inputs: Tensor,
                        create_graph: bool = True) -> Tensor:
    """R1 gradient penalty on real inputs.

    .. math::
        R_1 = \\sum_s \\frac{1}{N} \\sum_{n=1}^{N}
            \\big\\| \\nabla_{x_n} \\textstyle\\sum D_s(x)_n \\big\\|_2^2

    i.e. the squared L2 norm of the gradient of the (spatially summed)
    discriminator output w.r.t. each real input, averaged over the batch and
    summed over the scales of a multi-scale discriminator. MRNet's release
    adds ``0.01 * R1`` to the least-squares discriminator loss (the caller
    applies the weight).

    Usage::

        real = real.detach().requires_grad_()
        real_preds = discriminator(real)
        loss_d = gan_loss(real_preds, True) + \\
            0.01 * r1_gradient_penalty(real_preds, real)

    Args:
        real_preds (Tensor | Sequence[Tensor]): Discriminator outputs on
            ``real_inputs`` (one tensor, or one per scale).
        real_inputs (Tensor): The real inputs, of shape (N, ...); they must
            require grad and ``real_preds`` must be computed from them.
        create_graph (bool): Keep the graph of the gradient so that the
            penalty can be back-propagated into the discriminator.
            Default: True.

    Returns:
        Tensor: Scalar penalty (float32).
    """
    assert real_inputs.requires_grad, \
        'real_inputs must require grad (call .requires_grad_() before D)'
    preds = _as_list(real_preds)
    penalty = real_inputs.new_zeros((), dtype=torch.float32)
    for pred in preds:
        # retain the graph: the caller usually back-propagates the GAN loss
        # on the same outputs afterwards
        grad, = torch.autograd.grad(
            outputs=pred.float().sum(),
            inputs=real_inputs,
            create_graph=create_graph,
            retain_graph=True)
        penalty = penalty + grad.float().pow(2).flatten(1).sum(1).mean()
    return penalty
