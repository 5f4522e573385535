# Copyright (c) mmseg_uda contributors. All rights reserved.
"""A diverging run stops with an error that says what diverged, instead of
skipping non-finite updates forever (issue 12, item 6)."""
import pytest
from conftest import build_optim, build_uda, make_batch, set_iter

from mmseg_uda.utils.nonfinite_guard import NonFiniteLossError

pytestmark = pytest.mark.usefixtures('uda_env')


def _diverge(model, optim, steps):
    for it in range(steps):
        set_iter(it)
        model.train_step(make_batch(seed=it), optim)


def test_diverging_lr_stops_after_consecutive_skips():
    """lr 1e9: the weights blow up, every later update is non-finite. After
    ``nonfinite_max_consecutive_skips`` skipped segmentor updates in a row
    the run stops, naming the part and the non-finite loss terms."""
    model = build_uda(nonfinite_max_consecutive_skips=3)
    optim = build_optim(model, seg_lr=1e9)
    with pytest.raises(NonFiniteLossError) as info:
        _diverge(model, optim, steps=30)
    msg = str(info.value)
    assert '3 consecutive' in msg and 'segmentor update' in msg
    assert 'src.decode.loss_ce' in msg  # the loss term that diverged
    assert 'diverged' in msg
    assert int(model.skipped_steps) == 3


def test_isolated_skips_do_not_stop_the_run(monkeypatch):
    """Skips separated by applied updates reset the count: a NaN every
    other step never reaches the limit."""
    model = build_uda(nonfinite_max_consecutive_skips=2)
    optim = build_optim(model)
    head = model.segmentor.decode_head
    real = head.loss_decode.forward
    for it in range(6):
        set_iter(it)
        if it % 2 == 0:
            head.loss_decode.forward = \
                lambda *a, **k: real(*a, **k) * float('nan')
        else:
            head.loss_decode.forward = real
        model.train_step(make_batch(seed=it), optim)
    assert int(model.skipped_steps) == 3
    with pytest.raises(ValueError, match='nonfinite_max_consecutive_skips'):
        build_uda(nonfinite_max_consecutive_skips=-1)
