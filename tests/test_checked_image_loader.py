# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Every config loads images with ``LoadCheckedImageFromFile``.

The README promises a clear error naming the file for an unreadable,
empty or truncated image. mmcv's ``LoadImageFromFile`` (formerly in the
synthetic configs) fails on a zero-byte image with ``cv2.error ...
!buf.empty()`` and no file name.
"""
import os
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_runs import ROOT, make_bench  # noqa: E402

import mmseg_uda  # noqa: F401,E402


def _configs():
    out = []
    for dirpath, _, names in os.walk(osp.join(ROOT, 'configs')):
        if not {'_base_', 'benchmarks'} & set(dirpath.split(os.sep)):
            out += [osp.join(dirpath, n) for n in names if n.endswith('.py')]
    return sorted(out)


def _loaders(node):
    """Types of the first transform of every pipeline inside ``node``."""
    found = []
    if isinstance(node, dict):
        pipeline = node.get('pipeline')
        if isinstance(pipeline, list) and pipeline and \
                isinstance(pipeline[0], dict):
            found.append(pipeline[0].get('type'))
        for value in node.values():
            found += _loaders(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            found += _loaders(value)
    return found


def test_every_config_uses_the_checked_image_loader():
    configs = _configs()
    assert len(configs) > 30
    for path in configs:
        cfg = Config.fromfile(path)
        loaders = []
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            loaders += _loaders(cfg.get(key) or {})
        assert loaders, path
        for t in loaders:
            assert t.split('.')[-1] != 'LoadImageFromFile', path


@pytest.mark.parametrize('config', ['synthetic/source_only.py',
                                    'synthetic_synthia/source_only.py'])
def test_zero_byte_image_error_names_the_file(tmp_path, monkeypatch,
                                              config):
    root = make_bench(str(tmp_path))
    monkeypatch.chdir(root)  # the configs' data roots are relative
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    path = ds.get_data_info(0)['img_path']
    open(path, 'wb').close()
    with pytest.raises(OSError, match=path):
        ds[0]


def test_infer_reader_refuses_a_png_without_its_end(tmp_path):
    """tools/infer.py's reader applies the training loader's check: a PNG
    cut before its IEND chunk is refused naming the file and the cause
    (whatever the decoder would make of it)."""
    import cv2
    import numpy as np

    from mmseg_uda.apis.inference import ImageReadError, read_image
    path = str(tmp_path / 'cut.png')
    img = np.random.RandomState(0).randint(0, 255, (16, 24, 3), np.uint8)
    cv2.imwrite(path, img)
    assert read_image(path).shape == (16, 24, 3)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:-12])  # drop the IEND chunk
    with pytest.raises(ImageReadError,
                       match=r'cut\.png is a truncated .*IEND'):
        read_image(path)
