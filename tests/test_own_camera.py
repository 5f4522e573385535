# Copyright (c) mmseg_uda contributors. All rights reserved.
"""One's own data: ``ImageFolderDataset`` and the README's "Adapt to your
own camera" commands, run as written (2-iteration schedules, a 4-image
synthetic benchmark)."""
import glob
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import mmseg_uda  # noqa: F401
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_runs import LOADERS, PY, ROOT, env  # noqa: E402

README = osp.join(ROOT, 'README.md')
SMALL_BENCH = ['--num-source', '4', '--num-target-train', '4', '--num-val',
               '2', '--size', '256x128', '--quiet']
SHORT = [o for o in LOADERS if not o.startswith(('val_', 'test_'))] + [
    'train_dataloader.batch_size=1', 'train_cfg.max_iters=2',
    'default_hooks.checkpoint.interval=2',
    'default_hooks.label_free_signals.interval=2',
    'model.self_training.views.num_views=2'
]


def readme_commands():
    """The bash block of README section "Adapt to your own camera"."""
    with open(README) as f:
        text = f.read()
    section = text.split('## Adapt to your own camera', 1)[1]
    block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    return [line for line in block.splitlines()
            if line.strip() and not line.startswith('#')]


def shorten(cmd):
    """The README command with the test's small data and 2 iterations."""
    cmd = re.sub(r'iter_(800|400)\.pth', 'iter_2.pth', cmd)
    args = shlex.split(cmd)
    assert args[0] in ('python', 'grep'), cmd
    if args[0] == 'grep':
        return cmd
    args[0] = PY
    args[1] = osp.join(ROOT, args[1])
    if args[1].endswith('make_synthetic.py'):
        args += SMALL_BENCH
    elif args[1].endswith('train.py'):
        options = [o for o in SHORT if 'self_training' not in o
                   or 'sac' in args[2]]
        if 'sac' in args[2]:
            options.append('load_from=work_dirs/own_camera/abn/iter_2.pth')
        args += ['--cfg-options'] + options
    args[2:] = [osp.join(ROOT, a) if a.startswith('configs/') else a
                for a in args[2:]]
    return args


@pytest.mark.slow
def test_readme_own_camera_commands_run(tmp_path):
    cwd = str(tmp_path)
    cmds = readme_commands()
    tools = [shlex.split(c)[1] if c.startswith('python') else 'grep'
             for c in cmds]
    assert tools[:6] == [
        'tools/make_synthetic.py', 'tools/train.py', 'tools/train.py',
        'grep', 'tools/export_model.py', 'tools/infer.py'
    ]
    outputs = []
    for cmd in cmds:
        args = shorten(cmd)
        proc = subprocess.run(args, cwd=cwd, env=env(), shell=isinstance(
            args, str), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=600)
        assert proc.returncode == 0, f'{cmd}\n{proc.stdout[-5000:]}'
        outputs.append(proc.stdout)
    work = osp.join(cwd, 'work_dirs', 'own_camera')
    # the label-free signals of the SAC checkpoint (no validation set)
    records = [json.loads(line) for line in outputs[3].splitlines()]
    assert records and records[-1]['step'] == 2
    assert {'proxy.max_prob', 'proxy.entropy', 'proxy.head_disagreement',
            'proxy.teacher_disagreement'} <= set(records[-1])
    # the exported teacher, label PNGs and overlays of the 2 val images
    assert osp.isfile(osp.join(work, 'model', 'model.pth'))
    labels = sorted(glob.glob(osp.join(work, 'infer', 'labels', '*', '*.png')))
    overlays = glob.glob(osp.join(work, 'infer', 'overlays', '*', '*.png'))
    assert len(labels) == len(overlays) == 2
    assert np.array(Image.open(labels[0])).max() < 19
    # class statistics (4 camera images x 19 classes), pseudo labels
    stats = np.load(osp.join(work, 'class_stats.npy'))
    assert stats.shape == (4, 19)
    pseudo = glob.glob(osp.join(work, 'pseudo_labels', '**', '*.png'),
                       recursive=True)
    assert len(pseudo) == 4
    # they mirror the camera tree (image extension replaced by .png)
    assert osp.isfile(osp.join(work, 'pseudo_labels', 'aachen',
                               'aachen_000000_000019_leftImg8bit.png'))


# ---------------------------------------------------------------------------
# ImageFolderDataset
# ---------------------------------------------------------------------------


def _tree(root):
    """a.png, b.JPG, sub/c.jpeg, sub/deep/d.png, notes.txt; labels for all
    but d (raw ids 7 / 26 / 3)."""
    files = ['a.png', 'b.JPG', 'sub/c.jpeg', 'sub/deep/d.png']
    for i, rel in enumerate(files):
        p = osp.join(root, 'img', rel)
        os.makedirs(osp.dirname(p), exist_ok=True)
        Image.fromarray(np.full((4, 6, 3), 40 * i, np.uint8)).save(
            p, format='PNG' if p.lower().endswith('png') else 'JPEG')
        if 'deep' in rel:
            continue
        lbl = osp.join(root, 'lbl', osp.splitext(rel)[0] + '.png')
        os.makedirs(osp.dirname(lbl), exist_ok=True)
        raw = np.array([[7, 26, 3, 7, 7, 7]] * 4, np.uint8)
        Image.fromarray(raw).save(lbl)
    with open(osp.join(root, 'img', 'notes.txt'), 'w') as f:
        f.write('not an image')


def _build(**kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(dict(type='ImageFolderDataset', **kwargs))


def test_image_folder_lists_extensions_and_recursion(tmp_path):
    _tree(str(tmp_path))
    img = str(tmp_path / 'img')

    def rels(ds):
        return [osp.relpath(ds[i]['img_path'], img) for i in range(len(ds))]

    ds = _build(data_prefix=dict(img_path=img), pipeline=[])
    assert rels(ds) == ['a.png', 'b.JPG', 'sub/c.jpeg', 'sub/deep/d.png']
    assert len(ds.metainfo['classes']) == 19
    assert 'seg_map_path' not in ds[0]
    ds = _build(data_prefix=dict(img_path=img), recursive=False, pipeline=[])
    assert rels(ds) == ['a.png', 'b.JPG']
    ds = _build(data_prefix=dict(img_path=img), extensions=('.png', ),
                pipeline=[])
    assert rels(ds) == ['a.png', 'sub/deep/d.png']
    ds = _build(data_prefix=dict(img_path=img), label_space=None,
                metainfo=dict(classes=('x', 'y'), palette=[[0, 0, 0],
                                                           [9, 9, 9]]),
                pipeline=[])
    assert ds.metainfo['classes'] == ('x', 'y')


def test_image_folder_errors_name_the_path(tmp_path):
    _tree(str(tmp_path))
    img = str(tmp_path / 'img')
    with pytest.raises(FileNotFoundError, match='nope'):
        _build(data_prefix=dict(img_path=str(tmp_path / 'nope')),
               pipeline=[])
    with pytest.raises(ValueError, match=r"no images.*\.bmp"):
        _build(data_prefix=dict(img_path=img), extensions=('.bmp', ),
               pipeline=[])
    Image.new('RGB', (6, 4)).save(osp.join(img, 'a.jpg'))
    with pytest.raises(ValueError, match=r'a\.jpg.*a\.png|a\.png.*a\.jpg'):
        _build(data_prefix=dict(img_path=img), pipeline=[])
    os.remove(osp.join(img, 'a.jpg'))
    with pytest.raises(FileNotFoundError, match=r'deep/d\.png'):
        _build(data_prefix=dict(img_path=img,
                                seg_map_path=str(tmp_path / 'lbl')),
               with_labels=True, pipeline=[])


def test_image_folder_labels_through_the_id_map(tmp_path):
    _tree(str(tmp_path))
    os.remove(str(tmp_path / 'img' / 'sub' / 'deep' / 'd.png'))
    ds = _build(
        data_prefix=dict(img_path=str(tmp_path / 'img'),
                         seg_map_path=str(tmp_path / 'lbl')),
        with_labels=True, label_ids={7: 0, 26: 13},
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadMappedAnnotations')])
    assert len(ds) == 3
    for i in range(3):
        seg = ds[i]['gt_seg_map']
        # raw 7 -> 0, 26 -> 13, unlisted 3 -> ignore
        np.testing.assert_array_equal(
            seg, np.array([[0, 13, 255, 0, 0, 0]] * 4, np.uint8))
    with pytest.raises(ValueError, match='300'):
        _build(data_prefix=dict(img_path=str(tmp_path / 'img')),
               label_ids={300: 1}, pipeline=[])
