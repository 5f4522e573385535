# Copyright (c) mmseg_uda contributors. All rights reserved.
"""OutputSpaceAdversary's discriminator losses: which map is "real"
(``real_input='head'`` / ``'fused'``) and the R1 gradient penalty, against
formulas written out here."""
import pytest
import torch
import torch.nn.functional as F

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import MODELS

C = 4


def _adversary(gan_type='vanilla', **kwargs):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='OutputSpaceAdversary',
            discriminators={h: dict(type='FCDiscriminator', ndf=8)
                            for h in ('primary', 'aux')},
            loss_weights=dict(primary=1.0, aux=0.5),
            gan_loss=dict(type='GANLoss', gan_type=gan_type),
            num_classes=C, **kwargs))


def _logits(seed):
    g = torch.Generator().manual_seed(seed)
    return {k: 3 * torch.randn(2, C, 64, 64, generator=g)
            for k in ('primary', 'aux')}


def _gan(pred, real, gan_type):
    """Vanilla: binary cross-entropy on the logits; lsgan: squared error,
    both averaged over the discriminator's output map."""
    y = torch.full_like(pred, 1.0 if real else 0.0)
    if gan_type == 'vanilla':
        return F.softplus(-pred).mean() if real else F.softplus(pred).mean()
    return (pred - y).pow(2).mean()


def _r1(disc, real):
    """R1 = mean over the batch of ||d sum D(x_n) / d x_n||^2."""
    x = real.detach().clone().requires_grad_(True)
    (grad, ) = torch.autograd.grad(disc(x).sum(), x)
    return grad.pow(2).flatten(1).sum(1).mean()


@pytest.mark.parametrize('real_input', ['head', 'fused'])
@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan'])
def test_discriminator_losses_and_gradient_penalty(real_input, gan_type):
    adv = _adversary(gan_type, real_input=real_input, gradient_penalty=0.01,
                     disc_loss_weight=0.5)
    src, tgt = _logits(0), _logits(1)
    fused = torch.softmax(src['primary'] + 0.5 * src['aux'], 1)
    for name in ('primary', 'aux'):
        disc = adv.discriminators[name]
        losses = adv.discriminator_loss(name, src, tgt)
        # the paper: each discriminator sees its own head's source map; the
        # MRNet release: the fused map softmax(z_p + 0.5 z_a) for both
        real = fused if real_input == 'fused' else torch.softmax(src[name], 1)
        fake = torch.softmax(tgt[name], 1)
        with torch.no_grad():
            exp_src = 0.5 * _gan(disc(real), True, gan_type)
            exp_tgt = 0.5 * _gan(disc(fake), False, gan_type)
        exp_gp = 0.01 * _r1(disc, real)
        torch.testing.assert_close(losses['loss_d_src'].detach(), exp_src)
        torch.testing.assert_close(losses['loss_d_tgt'].detach(), exp_tgt)
        torch.testing.assert_close(losses['loss_d_gp'].detach(), exp_gp,
                                   rtol=1e-4, atol=1e-9)
        assert exp_gp > 0
        # the penalty trains the discriminator (second-order gradient)
        disc.zero_grad()
        losses['loss_d_gp'].backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in disc.parameters())


def test_fused_real_input_differs_from_head_maps():
    """The two settings really feed different "real" maps (else the test
    above could not tell them apart)."""
    src, tgt = _logits(0), _logits(1)
    head = _adversary(real_input='head').discriminator_loss('aux', src, tgt)
    fused = _adversary(real_input='fused').discriminator_loss(
        'aux', src, tgt)
    assert not torch.allclose(head['loss_d_src'], fused['loss_d_src'])
    torch.testing.assert_close(head['loss_d_tgt'], fused['loss_d_tgt'])
    assert 'loss_d_gp' not in head  # gradient_penalty=0: no term
