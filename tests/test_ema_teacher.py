# Copyright (c) mmseg_uda contributors. All rights reserved.
"""The momentum teacher of SAC: EMATeacherHook + UDASegmentor(teacher=...).

psi <- (1 - m) psi + m phi with m = 0.01 every T = 3 iterations, for weights
and BN running statistics, checked against a hand computation; the teacher's
state (incl. its update counter) survives a checkpoint round trip.
"""
from types import SimpleNamespace

import pytest
import torch
from conftest import build_uda, snapshot
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg_uda.engine.hooks import EMATeacherHook

pytestmark = pytest.mark.usefixtures('uda_env')

MOMENTUM, INTERVAL = 0.01, 3


def _model(seed=0):
    return build_uda(
        seed=seed, teacher=dict(momentum=MOMENTUM, interval=INTERVAL))


def _perturb(module, seed):
    """Change every float parameter and buffer by hand (as training would,
    BN running_mean / running_var included); running_var stays positive."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for v in module.state_dict().values():
            if v.is_floating_point():
                v.add_(0.1 * torch.rand(v.shape, generator=g, dtype=v.dtype))


def _assert_state_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _bn_keys(module):
    return [
        f'{name}.{buf}' for name, m in module.named_modules()
        if isinstance(m, _BatchNorm) for buf in ('running_mean', 'running_var')
    ]


def test_copy_then_update_every_interval_by_hand():
    model = _model()
    runner = SimpleNamespace(model=model)
    hook = EMATeacherHook()
    student, teacher = model.segmentor, model.teacher.module
    bn_keys = _bn_keys(student)
    assert len(bn_keys) > 10

    # before_train: the (different) student is copied into the teacher
    _perturb(student, seed=100)
    with torch.no_grad():
        for name, m in student.named_modules():
            if isinstance(m, _BatchNorm):
                m.num_batches_tracked.fill_(7)
    assert not torch.equal(teacher.backbone.stem[0].weight,
                           student.backbone.stem[0].weight)
    hook.before_train(runner)
    _assert_state_equal(snapshot(teacher), snapshot(student))
    assert int(model.teacher.steps) == 1

    # hand computation of psi <- 0.99 psi + 0.01 phi, in float64
    expected = {k: v.double() for k, v in snapshot(teacher).items()}
    previous = snapshot(teacher)
    for call in range(1, 8):
        _perturb(student, seed=call)
        hook.after_train_iter(runner, batch_idx=call - 1)
        current = snapshot(teacher)
        if call % INTERVAL == 0:  # the T-th calls: 3 and 6
            phi = snapshot(student)
            for k, v in expected.items():
                if v.is_floating_point():
                    expected[k] = (1 - MOMENTUM) * v + MOMENTUM * phi[k]
            for k, v in current.items():
                if v.is_floating_point():
                    torch.testing.assert_close(
                        v.double(), expected[k], rtol=0, atol=2e-6,
                        msg=f'{k} at call {call}')
                    assert not torch.equal(v, previous[k]), k
            # BN running statistics are averaged too (not copied)
            for k in bn_keys:
                assert not torch.equal(current[k], phi[k]), k
        else:  # unchanged between the T-th calls
            _assert_state_equal(current, previous)
        previous = current
    assert int(model.teacher.steps) == 8


def test_teacher_frozen_and_always_eval():
    model = _model()
    assert model.teacher is not None
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert all(p.requires_grad for p in model.segmentor.parameters())
    for mode in (True, False, True):
        model.train(mode)
        assert all(not m.training for m in model.teacher.modules())
        assert all(m.training == mode for m in model.segmentor.modules())
    # the teacher is a submodule: its state is in the checkpoint
    keys = model.state_dict().keys()
    assert 'teacher.steps' in keys
    assert 'teacher.module.backbone.stem.0.weight' in keys
    assert 'teacher.module.backbone.stem.1.running_mean' in keys


def test_state_dict_round_trip_and_resume():
    hook = EMATeacherHook()
    a = _model(seed=0)
    runner_a = SimpleNamespace(model=a)
    hook.before_train(runner_a)
    for call in range(1, 5):  # steps: 1 -> 5, one update at call 3
        _perturb(a.segmentor, seed=call)
        hook.after_train_iter(runner_a, batch_idx=call - 1)
    state = a.state_dict()
    assert int(state['teacher.steps']) == 5

    # "resume": a fresh model (other init) loads the checkpoint
    b = _model(seed=1)
    assert int(b.teacher.steps) == 0
    b.load_state_dict(state)
    runner_b = SimpleNamespace(model=b)
    assert int(b.teacher.steps) == 5
    _assert_state_equal(snapshot(b.teacher.module), snapshot(a.teacher.module))

    # before_train of a resumed run does not copy the student again
    _perturb(a.segmentor, seed=50)
    _perturb(b.segmentor, seed=50)
    teacher_before = snapshot(b.teacher.module)
    hook.before_train(runner_b)
    _assert_state_equal(snapshot(b.teacher.module), teacher_before)
    assert int(b.teacher.steps) == 5

    # both runs update at the same iterations and stay identical
    updates_a, updates_b = [], []
    for call in range(5, 11):
        _perturb(a.segmentor, seed=call)
        _perturb(b.segmentor, seed=call)
        prev_a = snapshot(a.teacher.module)
        prev_b = snapshot(b.teacher.module)
        hook.after_train_iter(runner_a, batch_idx=call - 1)
        hook.after_train_iter(runner_b, batch_idx=call - 1)
        cur_a = snapshot(a.teacher.module)
        cur_b = snapshot(b.teacher.module)
        _assert_state_equal(cur_b, cur_a)
        key = 'backbone.stem.0.weight'
        updates_a.append(not torch.equal(cur_a[key], prev_a[key]))
        updates_b.append(not torch.equal(cur_b[key], prev_b[key]))
    # calls 6 and 9 are the 3rd and 6th after the initial copy
    assert updates_a == updates_b == [c % INTERVAL == 0 for c in range(5, 11)]


def test_teacher_follows_model_moves():
    """The runner moves the model after building it (``model.to(device)``);
    the hook must still write into the moved teacher."""
    model = _model()
    model.to(torch.float64)  # like .cuda(): parameters get new storage
    runner = SimpleNamespace(model=model)
    hook = EMATeacherHook()
    _perturb(model.segmentor, seed=1)
    hook.before_train(runner)
    teacher = model.teacher.module
    assert teacher.backbone.stem[0].weight.dtype == torch.float64
    _assert_state_equal(snapshot(teacher), snapshot(model.segmentor))
    copied = snapshot(teacher)
    for call in range(1, 4):
        _perturb(model.segmentor, seed=10 + call)
        hook.after_train_iter(runner, batch_idx=call - 1)
    w = teacher.backbone.stem[0].weight
    torch.testing.assert_close(
        w, (1 - MOMENTUM) * copied['backbone.stem.0.weight'] +
        MOMENTUM * model.segmentor.backbone.stem[0].weight)


def test_hook_needs_a_teacher():
    model = build_uda()
    with pytest.raises(RuntimeError, match='teacher'):
        EMATeacherHook().before_train(SimpleNamespace(model=model))
