# Copyright (c) mmseg_uda contributors. All rights reserved.
"""UDAIoUMetric: per-class IoU, class-subset means (mIoU*) and classes that
never occur, against a confusion matrix computed here with numpy."""
import numpy as np
import pytest
import torch

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import METRICS

CLASSES = ('road', 'wall', 'fence', 'car', 'sky')
SUBSET = ('road', 'fence', 'car', 'sky')  # 'wall' left out, like mIoU*


def _batches(seed=0, n=3, shape=(7, 9)):
    """Predictions and labels over ``n`` images: 'fence' (2) is never
    predicted nor labelled, 'sky' (4) is predicted but never labelled, 255
    is ignored."""
    rng = np.random.default_rng(seed)
    preds, labels = [], []
    for _ in range(n):
        label = rng.choice([0, 1, 3, 255], size=shape, p=[.4, .2, .3, .1])
        pred = label.copy()
        flip = rng.random(shape) < 0.35
        pred[flip] = rng.choice([0, 1, 3, 4], size=int(flip.sum()))
        pred[pred == 255] = 0
        preds.append(pred)
        labels.append(label)
    return preds, labels


def _confusion(preds, labels, num_classes):
    """conf[gt, pred] over all non-ignored pixels."""
    conf = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, g in zip(preds, labels):
        keep = g != 255
        np.add.at(conf, (g[keep], p[keep]), 1)
    return conf


def _evaluate(metric, preds, labels):
    samples = [
        dict(pred_sem_seg=dict(data=torch.from_numpy(p)[None]),
             gt_sem_seg=dict(data=torch.from_numpy(g)[None]))
        for p, g in zip(preds, labels)
    ]
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def _metric(**kwargs):
    metric = METRICS.build(dict(type='UDAIoUMetric', **kwargs))
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def test_per_class_iou_subset_mean_and_absent_classes():
    preds, labels = _batches()
    conf = _confusion(preds, labels, len(CLASSES))
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid='ignore'):
        iou = tp / union  # nan where a class is neither labelled nor predicted
    assert np.isnan(iou[2]) and iou[4] == 0  # the cases this test is about

    out = _evaluate(_metric(class_subsets={'mIoU*': list(SUBSET)}), preds,
                    labels)
    for c, name in enumerate(CLASSES):
        if np.isnan(iou[c]):
            assert np.isnan(out[f'IoU.{name}']), name
        else:
            assert out[f'IoU.{name}'] == pytest.approx(
                100 * iou[c], abs=0.005), name
    # means over the classes that occur (nan-mean), from the same counts
    assert out['mIoU'] == pytest.approx(100 * np.nanmean(iou), abs=0.005)
    idx = [CLASSES.index(n) for n in SUBSET]
    assert out['mIoU*'] == pytest.approx(
        100 * np.nanmean(iou[idx]), abs=0.005)
    assert out['mIoU*'] != pytest.approx(out['mIoU'], abs=0.01)


def test_options_and_errors():
    preds, labels = _batches(seed=1)
    out = _evaluate(_metric(per_class=False), preds, labels)
    assert 'mIoU' in out and not any(k.startswith('IoU.') for k in out)
    with pytest.raises(KeyError, match='tree'):
        _evaluate(_metric(class_subsets={'mIoU*': ['road', 'tree']}), preds,
                  labels)
    with pytest.raises(ValueError, match='mIoU'):
        METRICS.build(dict(type='UDAIoUMetric', iou_metrics=['mDice']))
