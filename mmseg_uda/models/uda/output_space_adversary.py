"""Output-space adversarial alignment with one discriminator per head."""
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..decode_heads.head_fusion import fuse_head_scores
from ..losses.gan_loss import r1_gradient_penalty
from .target_use import FORWARD


@MODELS.register_module()
class OutputSpaceAdversary(BaseModule):
    """Discriminators on segmentation softmax maps (AdaptSegNet, MRNet).

    Each head ``k`` (``'primary'``, ``'aux'``) has a discriminator
    :math:`D_k` that tells source from target softmax maps. The segmentation
    network is trained to fool it on target images:

    .. math::
        L_{adv} = \\sum_k \\lambda_k\\, \\ell(D_k(\\sigma(F_k(x_t))),
        \\mathrm{source})

    with :math:`\\lambda_{primary} = 0.001`, :math:`\\lambda_{aux} = 0.0002`
    (MRNet paper, following AdaptSegNet), while each :math:`D_k` is trained on
    detached maps:

    .. math::
        L_{D_k} = w\\,\\ell(D_k(\\sigma(F_k(x_s))), \\mathrm{source}) +
        w\\,\\ell(D_k(\\sigma(F_k(x_t))), \\mathrm{target}),\\quad w = 0.5

    Source is the "real" label. With ``real_input='fused'`` (MRNet release)
    the source map of every discriminator is
    :math:`\\mathrm{softmax}(z_p + w z_a)` instead of the head's own map
    (:func:`fuse_head_scores` in ``'logit'`` mode), :math:`w` the decode
    head's ``fuse_weight`` (0.5; passed by ``UDASegmentor``).

    Args:
        discriminators (dict[str, dict]): Head name -> discriminator config.
        loss_weights (dict[str, float]): Head name -> :math:`\\lambda_k` of
            the adversarial term.
        gan_loss (dict): Config of the GAN loss :math:`\\ell`.
        disc_loss_weight (float): :math:`w`. Defaults to 0.5.
        gradient_penalty (float): Weight of an R1 penalty on source inputs
            (release: 0.01 with the multi-scale discriminator). 0 disables.
        real_input (str): ``'head'`` (paper) or ``'fused'`` (release).
        fuse_weight (float): :math:`w` of the fused real map; filled in by
            ``UDASegmentor`` from the decode head's ``fuse_weight``.
            Defaults to 0.5.
        num_classes (int, optional): Number of classes of the segmentor
            (passed by ``UDASegmentor``); filled into discriminator configs
            that do not set it, and checked against those that do.
        init_cfg (dict, optional): Initialisation config.
    """

    #: fools the discriminators on the student's target logits
    #: (see ``models/uda/target_use.py``)
    target_use = FORWARD

    def __init__(self,
                 discriminators: Dict[str, dict],
                 loss_weights: Optional[Dict[str, float]] = None,
                 gan_loss: dict = dict(type='GANLoss', gan_type='vanilla'),
                 disc_loss_weight: float = 0.5,
                 gradient_penalty: float = 0.0,
                 real_input: str = 'head',
                 fuse_weight: float = 0.5,
                 num_classes: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if not discriminators:
            raise ValueError('OutputSpaceAdversary needs at least one '
                             'discriminator')
        if real_input not in ('head', 'fused'):
            raise ValueError(f"real_input must be 'head' or 'fused', got "
                             f'{real_input!r}')
        built = {}
        for name, cfg in discriminators.items():
            cfg = dict(cfg)
            if num_classes is not None:
                given = cfg.setdefault('num_classes', num_classes)
                if given != num_classes:
                    raise ValueError(
                        f'discriminator {name!r} is configured for '
                        f'{given} classes but the segmentor predicts '
                        f'{num_classes}')
            built[name] = MODELS.build(cfg)
        self.discriminators = torch.nn.ModuleDict(built)
        loss_weights = dict(loss_weights or {})
        missing = [k for k in self.discriminators if k not in loss_weights]
        if missing:
            raise KeyError(f'loss_weights has no weight for discriminators '
                           f'{missing}')
        self.loss_weights = loss_weights
        self.gan_loss = MODELS.build(gan_loss)
        self.disc_loss_weight = disc_loss_weight
        self.gradient_penalty = gradient_penalty
        self.real_input = real_input
        self.fuse_weight = fuse_weight

    @property
    def head_names(self):
        """Names of the heads that have a discriminator."""
        return list(self.discriminators.keys())

    @staticmethod
    def _softmax(logits: Tensor) -> Tensor:
        return torch.softmax(logits.float(), dim=1)

    @contextmanager
    def frozen(self):
        """Discriminator parameters take no gradient inside this block."""
        flags = [p.requires_grad for p in self.discriminators.parameters()]
        self.discriminators.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in zip(self.discriminators.parameters(), flags):
                p.requires_grad_(flag)

    def _check_heads(self, logits: Dict[str, Tensor]) -> None:
        missing = [k for k in self.discriminators if k not in logits]
        if missing:
            raise KeyError(
                f'the segmentor has no {missing} head output for the '
                f'discriminators {self.head_names}: a discriminator on the '
                "auxiliary head needs a dual head or an auxiliary_head")

    def generator_loss(self, target_logits: Dict[str, Tensor]
                       ) -> Dict[str, Tensor]:
        """Adversarial terms for the segmentation network (D frozen).

        Args:
            target_logits (dict[str, Tensor]): Head name -> target logits at
                input size.

        Returns:
            dict[str, Tensor]: ``loss_adv_<head>``.
        """
        self._check_heads(target_logits)
        losses = {}
        with self.frozen():
            for name, disc in self.discriminators.items():
                pred = disc(self._softmax(target_logits[name]))
                losses[f'loss_adv_{name}'] = self.loss_weights[name] * \
                    self.gan_loss(pred, True)
        return losses

    def _real_map(self, name: str, source_logits: Dict[str, Tensor]
                  ) -> Tensor:
        if self.real_input == 'fused' and 'aux' in source_logits:
            return fuse_head_scores(source_logits['primary'].float(),
                                    source_logits['aux'].float(),
                                    self.fuse_weight, mode='logit')
        return self._softmax(source_logits[name])

    def discriminator_loss(self, name: str, source_logits: Dict[str, Tensor],
                           target_logits: Dict[str, Tensor]
                           ) -> Dict[str, Tensor]:
        """Loss of discriminator ``name`` on detached predictions.

        Args:
            name (str): Head name.
            source_logits (dict[str, Tensor]): Source logits at input size.
            target_logits (dict[str, Tensor]): Target logits at input size.

        Returns:
            dict[str, Tensor]: ``loss_d_src``, ``loss_d_tgt`` (and
            ``loss_d_gp``).
        """
        disc = self.discriminators[name]
        real = self._real_map(name, source_logits).detach()
        fake = self._softmax(target_logits[name]).detach()
        if self.gradient_penalty > 0:
            real.requires_grad_(True)
        real_pred = disc(real)
        losses = dict(
            loss_d_src=self.disc_loss_weight * self.gan_loss(real_pred, True),
            loss_d_tgt=self.disc_loss_weight *
            self.gan_loss(disc(fake), False))
        if self.gradient_penalty > 0:
            losses['loss_d_gp'] = self.gradient_penalty * \
                r1_gradient_penalty(real_pred, real)
        return losses
