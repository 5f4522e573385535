# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Labels that would train on nothing are refused or reported, by name.

- A SYNTHIA label saved as 8-bit (the 16-bit release file scaled by
  ``>> 8``, written with the project's own format writers) reads as void
  everywhere; loading it raises a ``ValueError`` naming the file, also end
  to end in ``tools/train.py`` on the synthetic SYNTHIA benchmark (before:
  exit 0, ``loss_ce 0``, ``acc_seg 100``).
- A label that maps entirely to the ignore index warns, naming the file.
- ``UDADatasetCheckHook`` warns about a training batch whose every label
  pixel is ignore, naming the files, and raises after
  ``max_ignore_only_batches`` in a row.
"""
import glob
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.formats import make_gta5, make_synthia, random_ids  # noqa: E402
from helpers.train_runs import (LOADERS, NO_VAL, PY, ROOT,  # noqa: E402
                                env, run)

import mmseg_uda.engine.hooks.uda_dataset_check_hook as check_module  # noqa
from mmseg_uda.datasets import GTA5Dataset, SynthiaDataset  # noqa: E402
from mmseg_uda.benchmarks.synthetic import formats  # noqa: E402
from mmseg_uda.datasets.transforms.load_mapped_annotations import \
    LabelWarning  # noqa: E402
from mmseg_uda.engine.hooks import UDADatasetCheckHook  # noqa: E402

LOAD = [dict(type='LoadCheckedImageFromFile'),
        dict(type='LoadMappedAnnotations')]


def to_8bit_scaled(path):
    """Rewrite a 16-bit SYNTHIA label as 8-bit by ``>> 8`` (what an image
    tool's 'convert to 8 bits' does), with the project's image writer."""
    bgr16 = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert bgr16.dtype == np.uint16
    rgb8 = (bgr16[..., ::-1] >> 8).astype(np.uint8)
    formats.save_image(rgb8, path)


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('mmseg')


def test_8bit_synthia_label_is_refused(tmp_path):
    root = str(tmp_path / 'synthia')
    lab = random_ids((6, 9), range(1, 23), seed=1, dtype=np.uint16)
    samples = make_synthia(root, [lab, lab])
    to_8bit_scaled(samples[1].label_path)
    ds = SynthiaDataset(data_root=root, pipeline=LOAD)
    assert (ds[0]['gt_seg_map'] != 255).any()  # the 16-bit one is fine
    with pytest.raises(ValueError) as err:
        ds[1]
    assert samples[1].label_path in str(err.value)
    assert '8-bit' in str(err.value) and '16-bit' in str(err.value)


def test_all_ignore_label_warns_with_its_name(tmp_path):
    root = str(tmp_path / 'gta')
    void = np.zeros((6, 9), np.uint8)  # GTA id 0: unlabelled -> 255
    samples = make_gta5(root, [random_ids((6, 9), range(7, 34), seed=2),
                               void])
    ds = GTA5Dataset(data_root=root, pipeline=LOAD)
    with pytest.warns(LabelWarning) as record:
        out = ds[1]
    assert (out['gt_seg_map'] == 255).all()
    assert any(samples[1].label_path in str(w.message) and
               'entirely to the ignore index' in str(w.message)
               for w in record)


class _Runner:
    iter = 0


def _batch(names, valid):
    samples = []
    for name in names:
        gt = torch.full((1, 4, 4), 255, dtype=torch.uint8)
        if valid:
            gt[0, 1, 2] = 3
        s = SegDataSample(metainfo=dict(seg_map_path=name))
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return dict(inputs=[torch.zeros(3, 4, 4)] * len(names),
                data_samples=samples)


def test_hook_reports_and_stops_ignore_only_batches(monkeypatch):
    logged = []
    monkeypatch.setattr(check_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    hook = UDADatasetCheckHook(max_ignore_only_batches=3)
    runner = _Runner()
    hook.before_train_iter(runner, 0, _batch(['a.png', 'b.png'], False))
    assert len(logged) == 1 and 'a.png' in logged[0] \
        and 'b.png' in logged[0]
    # one valid pixel in the batch: fine, and the run of bad ones restarts
    hook.before_train_iter(runner, 1, _batch(['c.png', 'd.png'], True))
    assert len(logged) == 1
    hook.before_train_iter(runner, 2, _batch(['e.png'], False))
    hook.before_train_iter(runner, 3, _batch(['f.png'], False))
    with pytest.raises(ValueError, match='3 training batches in a row.*g.png'):
        hook.before_train_iter(runner, 4, _batch(['g.png'], False))
    # switched off
    off = UDADatasetCheckHook(max_ignore_only_batches=0)
    for i in range(5):
        off.before_train_iter(runner, i, _batch(['h.png'], False))


@pytest.mark.slow
def test_training_on_8bit_synthia_labels_fails_naming_a_file(tmp_path):
    root = str(tmp_path)
    run([PY, osp.join(ROOT, 'tools', 'make_synthetic.py'), '--out',
         osp.join(root, 'data', 'synthetic'), '--num-source', '4',
         '--num-target-train', '4', '--num-val', '2', '--size', '256x128',
         '--domains', 'synthia,cityscapes', '--quiet'], cwd=root)
    labels = sorted(glob.glob(osp.join(
        root, 'data/synthetic/synthia/RAND_CITYSCAPES/GT/LABELS/*.png')))
    assert len(labels) == 4
    for path in labels:
        to_8bit_scaled(path)
    proc = subprocess.run(
        [PY, osp.join(ROOT, 'tools', 'train.py'),
         osp.join(ROOT, 'configs', 'synthetic_synthia', 'source_only.py'),
         '--work-dir', osp.join(root, 'work'), '--cfg-options'] + LOADERS +
        NO_VAL + ['train_cfg.max_iters=2'],
        cwd=root, env=env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert 'ValueError: Label file' in proc.stdout
    # (the config's data root is relative to the working directory)
    assert any(osp.relpath(p, root) in proc.stdout for p in labels)
    assert '8-bit' in proc.stdout
