"""MRNet release options of the losses: ``--only-hard-label q`` (CE only on
pixels at or above the q-th percentile of the batch's pixel losses) and the
class-balanced weights inside the rectified stage-II loss.

Every expected value is computed here in numpy from the formulas (numpy's
own ``percentile``, log-softmax written out), not with the project's
helpers.
"""
import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

import mmseg_uda  # noqa: F401
from mmseg.registry import MODELS
from mmseg_uda.models.losses.hard_pixel_selection import (hard_pixel_labels,
                                                          loss_percentile)

IGNORE = 255


@pytest.fixture(autouse=True)
def no_iteration():
    """Class weights update at every call (no runner iteration known)."""
    hub = MessageHub.get_current_instance()
    old = hub.get_info('iter')
    hub.update_info('iter', None)
    yield
    hub.update_info('iter', old)


def _log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def _release_class_weight(label, num_classes, min_pixels, max_weight=7.):
    """Weights after the first update from an all-ones moving average."""
    n = label.shape[0]
    count = np.array([(label == c).sum() for c in range(num_classes)])
    rare = np.where(count < min_pixels * n, max_weight, 1.)
    often = 0.9 + 0.1 * np.where(count == 0, max_weight, 1.)
    return rare * often


def _data(seed, n=2, c=5, h=8, w=10):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c, h, w)) * 2
    label = rng.integers(0, c - 1, size=(n, h, w))  # class c-1 absent
    label[0, :2] = IGNORE
    return logits, label


@pytest.mark.parametrize('q', [0., 37.5, 80., 100.])
def test_loss_percentile_matches_numpy(q):
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.random(97), np.zeros(20), [0.5] * 5])
    got = loss_percentile(torch.from_numpy(values).view(2, -1), q)
    assert got.item() == pytest.approx(np.percentile(values, q), abs=1e-12)


def test_hard_pixel_labels_keeps_top_share():
    loss = torch.arange(100, dtype=torch.float64).view(4, 25)
    label = torch.ones(4, 25, dtype=torch.long)
    out = hard_pixel_labels(label, loss, 80)
    # numpy: 80th percentile of 0..99 is 79.2 -> 80..99 kept
    assert (out != IGNORE).sum() == 20
    assert (out[loss >= 79.2] == 1).all()
    assert label.eq(1).all()  # input untouched
    with pytest.raises(ValueError, match='percentile'):
        hard_pixel_labels(label, loss, 101)


@pytest.mark.parametrize('q', [None, 80.])
def test_class_balanced_ce_only_hard_label(q):
    logits, label = _data(0)
    num_classes, min_pixels = logits.shape[1], 20
    loss_fn = MODELS.build(
        dict(type='ClassBalancedCrossEntropyLoss', num_classes=num_classes,
             min_pixels=min_pixels, hard_percentile=q))
    loss_fn.train()
    out = loss_fn(torch.from_numpy(logits).float(),
                  torch.from_numpy(label), ignore_index=IGNORE)

    w = _release_class_weight(label, num_classes, min_pixels)
    logp = _log_softmax(logits)
    valid = label != IGNORE
    safe = np.where(valid, label, 0)
    ce = -np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    pix = np.where(valid, w[safe] * ce, 0.)  # the release's reduction='none'
    keep = valid.copy()
    if q is not None:
        keep &= pix >= np.percentile(pix, q)  # ignored pixels count as 0
        assert 0 < keep.sum() < valid.sum()
    expected = pix[keep].sum() / w[safe][keep].sum()
    assert out.item() == pytest.approx(expected, rel=1e-5)


def _rectified_release(logits_p, logits_a, label, w, q, aux_weight):
    """exp(-KL(other || self)) * w_y CE + KL over each classifier's kept
    pixels (hard ones when q is set), mean over those pixels."""
    lp, la = _log_softmax(logits_p), _log_softmax(logits_a)
    valid = label != IGNORE
    safe = np.where(valid, label, 0)

    def term(l_self, l_other):
        kl = (np.exp(l_other) * (l_other - l_self)).sum(1)
        ce = -np.take_along_axis(l_self, safe[:, None], 1)[:, 0]
        wce = np.where(valid, w[safe] * ce, 0.)
        keep = valid.copy()
        if q is not None:
            keep &= wce >= np.percentile(wce, q)
        return (np.exp(-kl) * wce + kl)[keep].sum() / keep.sum()

    return term(lp, la) + aux_weight * term(la, lp)


@pytest.mark.parametrize('q', [None, 80.])
def test_rectified_loss_class_balance_and_hard_label(q):
    logits_p, label = _data(3)
    logits_a, _ = _data(4)
    num_classes, min_pixels = logits_p.shape[1], 20
    loss_fn = MODELS.build(
        dict(type='RectifiedPseudoLabelLoss', aux_weight=0.5,
             class_balance=dict(num_classes=num_classes,
                                min_pixels=min_pixels),
             hard_percentile=q))
    loss_fn.train()
    out = loss_fn(torch.from_numpy(logits_p).float(),
                  torch.from_numpy(logits_a).float(), torch.from_numpy(label))
    w = _release_class_weight(label, num_classes, min_pixels)
    expected = _rectified_release(logits_p, logits_a, label, w, q, 0.5)
    assert out.item() == pytest.approx(expected, rel=1e-5)
    # the class weights really enter: unit weights give another value
    unit = _rectified_release(logits_p, logits_a, label,
                              np.ones(num_classes), q, 0.5)
    assert abs(unit - expected) > 1e-3 * abs(expected)
