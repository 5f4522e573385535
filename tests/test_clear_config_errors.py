# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Settings that trained nothing, or crashed late, are refused clearly;
dangling image links are reported.

Before: ``train_cfg.max_iters=0`` (or negative) exited 0 without training,
checkpoint or message; ``val_interval=0`` raised ``ZeroDivisionError``;
images that are symbolic links to missing files were skipped silently.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.formats import make_gta5, random_ids  # noqa: E402
from helpers.train_runs import (LOADERS, NO_VAL, PY, ROOT, env,  # noqa: E402
                                make_bench)

import mmseg_uda.datasets.mapped_label_mixin as mixin_module  # noqa: E402
from mmseg_uda.datasets import GTA5Dataset  # noqa: E402
from mmseg_uda.utils.train_cfg_check import check_train_loop_cfg  # noqa


@pytest.mark.parametrize('key,value', [('max_iters', 0), ('max_iters', -3),
                                       ('max_iters', 2.5),
                                       ('max_epochs', 0),
                                       ('val_interval', 0),
                                       ('val_interval', -1)])
def test_bad_loop_settings_are_refused(key, value):
    cfg = Config(dict(train_cfg=dict(
        type='IterBasedTrainLoop', max_iters=10, val_interval=5)))
    cfg.train_cfg[key] = value
    with pytest.raises(ValueError, match=f'train_cfg.{key}={value!r}'):
        check_train_loop_cfg(cfg)


def test_good_loop_settings_pass():
    check_train_loop_cfg(Config(dict(train_cfg=dict(
        type='IterBasedTrainLoop', max_iters=10, val_interval=100))))
    check_train_loop_cfg(Config(dict()))


@pytest.mark.slow
@pytest.mark.parametrize('option,message', [
    ('train_cfg.max_iters=0', 'train_cfg.max_iters=0: must be a positive'),
    ('train_cfg.val_interval=0', 'train_cfg.val_interval=0: must be a'),
])
def test_train_tool_refuses(tmp_path, option, message):
    root = make_bench(str(tmp_path))
    work_dir = osp.join(root, 'work')
    proc = subprocess.run(
        [PY, osp.join(ROOT, 'tools', 'train.py'),
         osp.join(ROOT, 'configs', 'synthetic', 'source_only.py'),
         '--work-dir', work_dir, '--cfg-options'] + LOADERS + NO_VAL +
        [option], cwd=root, env=env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert message in proc.stdout, proc.stdout[-3000:]


def test_dangling_image_links_are_reported(tmp_path, monkeypatch):
    root = str(tmp_path / 'gta')
    make_gta5(root, [random_ids((4, 6), range(7, 34), seed=k)
                     for k in range(2)])
    for k in (7, 8, 9):
        os.symlink(osp.join(root, 'gone', f'{k}.png'),
                   osp.join(root, 'images', f'0000{k}.png'))
    logged = []
    monkeypatch.setattr(mixin_module, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    ds = GTA5Dataset(data_root=root)
    assert len(ds) == 2
    msgs = [m for m, kw in logged if 'symbolic links' in m]
    assert len(msgs) == 1, logged
    assert '3 image(s)' in msgs[0]
    for k in (7, 8, 9):
        assert f'0000{k}.png' in msgs[0]


def test_only_dangling_image_links_say_so(tmp_path):
    root = tmp_path / 'gta'
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    os.symlink(str(root / 'gone.png'), str(root / 'images' / '00000.png'))
    with pytest.raises(ValueError, match='1 broken symbolic links'):
        GTA5Dataset(data_root=str(root))
