# Copyright (c) mmseg_uda contributors. All rights reserved.
"""GuardedOptimWrapper: the update of one trainable part (OptimWrapper's
update plus gradient averaging and the non-finite guard), and the
constructor building it for every part."""
import pytest
import torch
import torch.nn as nn
from conftest import build_optim, build_uda, make_batch
from mmengine.optim import OptimWrapper

from mmseg.registry import OPTIM_WRAPPERS
from mmseg_uda.engine.optimizers import (BF16AutocastOptimWrapper,
                                         GuardedOptimWrapper,
                                         GuardedUpdateMixin)
from mmseg_uda.utils.nonfinite_guard import (BufferSnapshot, NonFiniteGuard,
                                             NonFiniteLossError)


def _part(lr=0.5):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='GuardedOptimWrapper',
             optimizer=torch.optim.SGD(net.parameters(), lr=lr)))
    return net, wrapper


def test_guarded_update_is_sgd_step_when_finite():
    net, wrapper = _part()
    x = torch.randn(4, 3)
    w0 = net[0].weight.detach().clone()
    loss = net(x).square().sum()
    # the SGD step written out: w <- w - lr * dL/dw
    (grad, ) = torch.autograd.grad(loss, net[0].weight, retain_graph=True)
    counter = torch.zeros((), dtype=torch.long)
    assert wrapper.guarded_update(loss, net, NonFiniteGuard(),
                                  counter=counter)
    torch.testing.assert_close(net[0].weight.detach(), w0 - 0.5 * grad)
    assert int(counter) == 0
    assert all(p.grad is None or not p.grad.any() for p in net.parameters())


def test_guarded_update_skips_nonfinite_and_restores_buffers():
    net, wrapper = _part()
    guard = NonFiniteGuard(max_consecutive_skips=2)
    counter = torch.zeros((), dtype=torch.long)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    snapshot = BufferSnapshot([net])
    out = net(torch.randn(4, 3))  # train mode: BN statistics move
    loss = out.sum() * float('nan')
    assert not wrapper.guarded_update(loss, net, guard, {'loss_x': loss},
                                      'part', snapshot, counter, 3)
    assert int(counter) == 1
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    # a second one in a row stops the run, naming the part and the term
    loss = net(torch.randn(4, 3)).sum() * float('inf')
    with pytest.raises(NonFiniteLossError, match='2 consecutive part'):
        wrapper.guarded_update(loss, net, guard, {'loss_x': loss}, 'part',
                               None, counter, 4)


def test_plain_wrapper_refused_by_the_model():
    """The mixin's update uses only the public OptimWrapper interface (it
    works on a plain wrapper); the model calls the wrapper's own
    guarded_update and refuses a plain OptimWrapper (a config without the
    UDA constructor) with an error naming the fix."""
    net, _ = _part()
    plain = OptimWrapper(torch.optim.SGD(net.parameters(), lr=0.5))
    counter = torch.zeros((), dtype=torch.long)
    loss = net(torch.randn(4, 3)).sum() * float('nan')
    assert not GuardedUpdateMixin.guarded_update(
        plain, loss, net, NonFiniteGuard(), counter=counter)
    assert int(counter) == 1
    model = build_uda()
    single = OptimWrapper(
        torch.optim.SGD(model.segmentor.parameters(), lr=0.01))
    with pytest.raises(TypeError, match="'segmentor' optimizer wrapper "
                       'OptimWrapper has no guarded_update.*'
                       'UDAOptimWrapperConstructor'):
        model.train_step(make_batch(target=False), single)


def test_constructor_builds_guarded_wrappers():
    model = build_uda(adversary=dict(
        type='OutputSpaceAdversary',
        discriminators=dict(primary=dict(type='FCDiscriminator', ndf=8)),
        loss_weights=dict(primary=1.0)))
    optim = build_optim(model)
    assert set(optim.keys()) == {'segmentor', 'disc_primary'}
    for name, wrapper in optim.items():
        assert type(wrapper) is GuardedOptimWrapper, name
    assert issubclass(BF16AutocastOptimWrapper, GuardedUpdateMixin)
