"""tools/eval_pseudo_labels.py scores pseudo labels against the target
training labels: checked on a tiny generated benchmark with pseudo labels
made from the ground truth itself (perfect), with one class relabelled
(IoU computed independently from pixel counts), and with ignored pixels
(coverage)."""
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from helpers.train_runs import make_bench

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        'eval_pseudo_labels', REPO / 'tools' / 'eval_pseudo_labels.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def target(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('bench'))
    make_bench(root)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        cfg = Config.fromfile(str(REPO / 'configs' / 'synthetic' /
                                  'mrnet.py'))
        dataset = _tool().labelled_target(cfg)
        items = [dataset[i] for i in range(len(dataset))]
    finally:
        os.chdir(cwd)
    return root, dataset, items


def _write(dataset, items, out, change):
    from mmseg_uda.datasets.pseudo_label_dataset import (
        image_dir_and_suffix, pseudo_label_path)
    img_dir, suffix = image_dir_and_suffix(dataset)
    for item in items:
        path = pseudo_label_path(item['img_path'], img_dir, str(out), suffix)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(change(item['gt_seg_map'].copy())).save(path)


def test_scores_against_ground_truth(target, tmp_path, monkeypatch):
    root, dataset, items = target
    monkeypatch.chdir(root)  # the configs' relative data roots
    tool = _tool()
    _write(dataset, items, tmp_path / 'perfect', lambda g: g)
    perfect = tool.score(dataset, str(tmp_path / 'perfect'))
    assert perfect['accuracy'] == 100.0 and perfect['mIoU'] == 100.0
    assert perfect['coverage'] == 100.0 and perfect['images'] == len(items)

    # road (0) predicted as sidewalk (1), and half the sky pixels ignored
    def corrupt(g):
        g[g == 0] = 1
        sky = np.flatnonzero(g == 10)
        g.flat[sky[::2]] = 255
        return g
    _write(dataset, items, tmp_path / 'bad', corrupt)
    bad = tool.score(dataset, str(tmp_path / 'bad'))
    gts = np.concatenate([i['gt_seg_map'].ravel() for i in items])
    road, side = (gts == 0).sum(), (gts == 1).sum()
    sky = (gts == 10).sum()
    ignored = sum(len(np.flatnonzero(i['gt_seg_map'] == 10)[::2])
                  for i in items)
    labelled = (gts != 255).sum()
    assert bad['IoU.road'] == 0.0
    # sidewalk: tp = its own pixels, union = its own + the road pixels
    assert bad['IoU.sidewalk'] == pytest.approx(100 * side / (side + road))
    assert bad['IoU.sky'] == 100.0  # the kept sky pixels are right
    assert bad['coverage'] == pytest.approx(
        100 * (labelled - ignored) / labelled)
    assert bad['accuracy'] == pytest.approx(
        100 * (labelled - ignored - road) / (labelled - ignored))
    assert sky > 0 and road > 0


def test_missing_pseudo_label_is_named(target, tmp_path, monkeypatch):
    root, dataset, items = target
    monkeypatch.chdir(root)
    with pytest.raises(FileNotFoundError, match='no pseudo label'):
        _tool().score(dataset, str(tmp_path / 'empty'))
