"""The SYNTHIA-format -> Cityscapes-format configs of the embedded synthetic
benchmark (``configs/synthetic_synthia/``).

- each config is the GTA-format one of ``configs/synthetic/`` of the same
  name with the SYNTHIA dataset base and the 16-class model base: the two
  parsed configs differ exactly in the label space, the source dataset and
  the work-dir paths (so every method setting, schedule, hook, loader and
  pipeline is the GTA one, and a change to a GTA config that is not
  mirrored fails here);
- the SYNTHIA values themselves (16 classes, label mappings, mIoU* over 13
  classes, the starts the adaptation configs load);
- the models build with 16-class heads and discriminators;
- on a tiny generated benchmark, the datasets of the configs give labels in
  the 16-class space (checked pixel for pixel against the generator's scene
  classes), and source-only, ABN -> SAC and MRNet stage I -> pseudo labels
  -> stage II train a few iterations each through tools/train.py (with
  tools/gen_pseudo_labels.py between the MRNet stages).
"""
import os.path as osp
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SYNTHETIC_COUNTS
from helpers.val_log import check_val_metrics
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import DATASETS, MODELS
from mmseg_uda.benchmarks import synthetic as ss

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_runs import (LOADERS, NO_VAL, PY, run,  # noqa: E402
                                train)

init_default_scope('mmseg')

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
NAMES = [
    'oracle', 'source_only', 'adaptsegnet', 'mrnet', 'mrnet_stage2', 'abn',
    'sac', 'mrnet_sac'
]
CS16 = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
        'traffic light', 'traffic sign', 'vegetation', 'sky', 'person',
        'rider', 'car', 'bus', 'motorcycle', 'bicycle')
SYNTHIA_ROOT = 'data/synthetic/synthia/RAND_CITYSCAPES'
UDA = ('adaptsegnet', 'mrnet', 'abn', 'sac', 'mrnet_sac')


def load(family: str, name: str) -> Config:
    return Config.fromfile(str(CONFIGS / family / f'{name}.py'))


# ----------------------------------------------------------------------------
# the two families differ only in the label space and the data
# ----------------------------------------------------------------------------

# Differences every SYNTHIA config has from its GTA twin (paths of the
# parsed configs): the class count, the source and its helper variables,
# the 16-class mapping of the target, the mIoU* subset.
COMMON_DIFF = {
    'num_classes', 'segmentor.decode_head.num_classes',
    'model.segmentor.decode_head.num_classes', 'source_root',
    'source_dataset.type', 'source_dataset.data_root',
    'source_dataset.label_mapping', 'target_train_dataset.label_mapping',
    'target_val_dataset.label_mapping', 'miou13_classes',
    'val_dataloader.dataset.label_mapping',
    'test_dataloader.dataset.label_mapping', 'val_evaluator.class_subsets',
    'test_evaluator.class_subsets'
}
UDA_TRAIN_DIFF = {
    'train_dataloader.dataset.source.type',
    'train_dataloader.dataset.source.data_root',
    'train_dataloader.dataset.source.label_mapping',
    'train_dataloader.dataset.target.label_mapping'
}
TRAIN_DIFF = {
    'source_only': {
        'train_dataloader.dataset.type', 'train_dataloader.dataset.data_root',
        'train_dataloader.dataset.label_mapping'
    },
    'oracle': {'train_dataloader.dataset.label_mapping'},
    'mrnet_stage2': {
        'train_dataloader.dataset.dataset.label_mapping',
        'train_dataloader.dataset.pseudo_label_dir', 'load_from',
        # the class-balanced CE's class count
        'segmentor.decode_head.loss_decode.num_classes',
        'model.segmentor.decode_head.loss_decode.num_classes'
    },
    'adaptsegnet': UDA_TRAIN_DIFF | {'load_from'},
    'mrnet': UDA_TRAIN_DIFF | {
        'load_from',
        # the class-balanced CE's class count
        'segmentor.decode_head.loss_decode.num_classes',
        'model.segmentor.decode_head.loss_decode.num_classes'
    },
    'abn': UDA_TRAIN_DIFF,
    'sac': UDA_TRAIN_DIFF | {'load_from'},
    'mrnet_sac': UDA_TRAIN_DIFF | {'load_from'},
}


def diff_paths(a, b, path=''):
    """Dotted paths where two nested config dicts differ (a key present in
    only one of them counts; lists are compared whole)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = set()
        for key in set(a) | set(b):
            sub = f'{path}.{key}' if path else str(key)
            if key not in a or key not in b:
                out.add(sub)
            else:
                out |= diff_paths(a[key], b[key], sub)
        return out
    return set() if a == b else {path}


@pytest.mark.parametrize('name', NAMES)
def test_same_settings_as_gta_family(name):
    """Everything but the label space, the data and the work-dir paths is
    the GTA config's: model parts, optimisers, schedule, loaders, pipelines,
    hooks, stage keys."""
    gta = load('synthetic', name).to_dict()
    synthia = load('synthetic_synthia', name).to_dict()
    found = diff_paths(gta, synthia)
    expected = COMMON_DIFF | TRAIN_DIFF[name]
    assert found == expected, (
        f'configs/synthetic_synthia/{name}.py and configs/synthetic/{name}.py '
        f'differ in unexpected keys {sorted(found - expected)} (mirror the '
        f'GTA config) or agree in {sorted(expected - found)}')
    # the method settings named in the task, explicitly
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'default_hooks', 'custom_hooks'):
        assert gta.get(key) == synthia.get(key), key
    assert gta['train_dataloader']['batch_size'] == \
        synthia['train_dataloader']['batch_size']
    gta_model, synthia_model = gta['model'], synthia['model']
    for model in (gta_model, synthia_model):
        head = model['segmentor']['decode_head']
        head.pop('num_classes')
        if isinstance(head.get('loss_decode'), dict):
            head['loss_decode'].pop('num_classes', None)
    assert gta_model == synthia_model


@pytest.mark.parametrize('name', NAMES)
def test_synthia_data_and_label_space(name):
    cfg = load('synthetic_synthia', name)
    base = Config.fromfile(
        str(CONFIGS / '_base_/datasets/synthetic_synthia2cs.py'))
    assert cfg.model.segmentor.decode_head.num_classes == len(CS16)
    for key in ('val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator'):
        assert cfg[key] == base[key], key
    assert cfg.val_dataloader.dataset.label_mapping == 'cityscapes16'
    assert cfg.val_dataloader.dataset.data_prefix.img_path == \
        'leftImg8bit/val'
    subset = cfg.val_evaluator.class_subsets['mIoU*']
    assert len(subset) == 13
    assert tuple(c for c in CS16 if c in subset) == tuple(subset)
    assert set(CS16) - set(subset) == {'wall', 'fence', 'pole'}

    train = cfg.train_dataloader.dataset
    if name in UDA:
        assert train == base.train_dataloader.dataset
        assert train.source.type == 'SynthiaDataset'
        assert train.source.data_root == SYNTHIA_ROOT
        assert train.source.label_mapping == 'synthia16'
        assert train.target.label_mapping == 'cityscapes16'
    elif name == 'source_only':
        assert train.type == 'SynthiaDataset'
        assert train.data_root == SYNTHIA_ROOT
        assert train.label_mapping == 'synthia16'
    else:
        # the oracle's labelled target and stage II's pseudo-labelled
        # target: the Cityscapes-format train split, 16 classes
        target = train if name == 'oracle' else train.dataset
        assert target.type == 'CityscapesRawDataset'
        assert target.data_root == 'data/synthetic/cityscapes'
        assert target.data_prefix.img_path == 'leftImg8bit/train'
        assert target.label_mapping == 'cityscapes16'
        assert target.get('with_labels', True) is (name == 'oracle')


@pytest.mark.parametrize('name', ['adaptsegnet', 'mrnet', 'sac', 'mrnet_sac',
                                  'mrnet_stage2'])
def test_stages_start_from_synthia_configs(name):
    """The default ``load_from`` of an adaptation config is the SYNTHIA
    start (not the GTA run's), and the start's network is the same (the
    checkpoint loads); the benchmark manifest starts the same runs from the
    same configs of this folder."""
    cfg = load('synthetic_synthia', name)
    gta = load('synthetic', name)
    start = {'sac': 'abn', 'mrnet_sac': 'abn',
             'mrnet_stage2': 'mrnet'}.get(name, 'source_only')
    prev_cfg = load('synthetic_synthia', start)
    # the same network (the checkpoint loads); the training loss may differ
    prev_seg = prev_cfg.model.segmentor.to_dict()
    seg = cfg.model.segmentor.to_dict()
    for s in (prev_seg, seg):
        s['decode_head'].pop('loss_decode')
    assert prev_seg == seg
    assert cfg.load_from != gta.load_from and 'synthia' in cfg.load_from
    assert f'synthetic_synthia_{start}/' in cfg.load_from
    if name == 'mrnet_stage2':
        pl_dir = cfg.train_dataloader.dataset.pseudo_label_dir
        assert 'synthia' in pl_dir
        assert pl_dir != gta.train_dataloader.dataset.pseudo_label_dir


@pytest.mark.parametrize('name', NAMES)
def test_models_have_16_class_heads(name):
    cfg = load('synthetic_synthia', name)
    model = MODELS.build(cfg.model.to_dict())
    assert model.num_classes == 16
    head = model.segmentor.decode_head
    for branch in (head.conv_seg, head.conv_seg_aux):
        assert {c.out_channels for c in branch.convs} == {16}
    if cfg.model.get('adversary'):
        for disc in model.adversary.discriminators.values():
            assert disc.layers[0].in_channels == 16
            assert disc.layers[0].out_channels == 32  # ndf 32, as for GTA
    model.eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 128), None, mode='tensor')
    for logits in outs:
        assert tuple(logits.shape) == (1, 16, 8, 16)


# ----------------------------------------------------------------------------
# on a tiny generated benchmark
# ----------------------------------------------------------------------------

NUM_SOURCE = SYNTHETIC_COUNTS['num_source']
NUM_TRAIN = SYNTHETIC_COUNTS['num_target_train']
NUM_VAL = SYNTHETIC_COUNTS['num_val']


@pytest.fixture(scope='module')
def bench(bench_dir):
    """The session's synthetic benchmark in the configs' relative layout
    (``data/synthetic/...``) under a temporary working directory."""
    return bench_dir


def expected_16(classes: np.ndarray, domain: str) -> np.ndarray:
    """The generator's scene classes (19 train ids + lane / ego / void
    codes) in the 16-class label space: terrain, truck, train, the ego
    vehicle and void ignored; lane markings are road in Cityscapes and
    SYNTHIA's ignored ``lanemarking``."""
    lut = np.full(256, 255, np.uint8)
    for tid, name in enumerate(ss.CLASSES):
        if name in CS16:
            lut[tid] = CS16.index(name)
    if domain == 'cityscapes':
        lut[ss.LANE] = CS16.index('road')
    return lut[classes]


def _absolute(ds_cfg: dict, root: Path) -> dict:
    ds_cfg = dict(ds_cfg)
    ds_cfg['data_root'] = str(root / ds_cfg['data_root'])
    return ds_cfg


def _labels(sample) -> np.ndarray:
    return sample['data_samples'].gt_sem_seg.data[0].numpy()


PLAIN = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='PackSegInputs')
]
ALLOWED = set(range(16)) | {255}


def test_datasets_give_16_class_labels(bench):
    cfg = load('synthetic_synthia', 'abn')
    uda = cfg.train_dataloader.dataset.to_dict()
    source_cfg = _absolute(uda['source'], bench)
    val_cfg = _absolute(cfg.val_dataloader.dataset.to_dict(), bench)
    oracle_cfg = _absolute(
        load('synthetic_synthia', 'oracle').train_dataloader.dataset.to_dict(),
        bench)

    # pixel for pixel against the scenes, without random transforms
    source = DATASETS.build(dict(source_cfg, pipeline=PLAIN))
    assert len(source) == NUM_SOURCE
    assert source.metainfo['classes'] == CS16
    seen = set()
    for k in range(NUM_SOURCE):
        sample = source[k]
        assert sample['data_samples'].seg_map_path.endswith(f'{k:07d}.png')
        _, classes, _ = ss.render_scene('synthia', 0, k, (256, 128))
        labels = _labels(sample)
        np.testing.assert_array_equal(labels,
                                      expected_16(classes, 'synthia'))
        seen |= set(np.unique(labels).tolist())
    assert seen <= ALLOWED and 255 in seen and len(seen - {255}) >= 8

    val = DATASETS.build(dict(val_cfg, pipeline=PLAIN))
    assert len(val) == NUM_VAL and val.metainfo['classes'] == CS16
    for k in range(NUM_VAL):  # sorted city / sequence order = scene order
        _, classes, _ = ss.render_scene('cityscapes', 0, 10**6 + k,
                                        (256, 128))
        np.testing.assert_array_equal(
            _labels(val[k]), expected_16(classes, 'cityscapes'))

    # the configs' own pipelines (resize, crop, flip) keep the label space
    for ds_cfg in (source_cfg, val_cfg, oracle_cfg):
        dataset = DATASETS.build(ds_cfg)
        for k in range(len(dataset)):
            values = set(np.unique(_labels(dataset[k])).tolist())
            assert values and values <= ALLOWED, (ds_cfg['type'], values)
    uda['source'] = source_cfg
    uda['target'] = _absolute(uda['target'], bench)
    pair = DATASETS.build(uda)[(0, 1)]
    assert set(np.unique(_labels(pair)).tolist()) <= ALLOWED
    assert 'gt_sem_seg' not in pair['target_data_samples']  # unlabelled


FAST = LOADERS + [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2'
]


def _train(name, work_dir, cwd, *extra):
    return train(
        str(CONFIGS / 'synthetic_synthia' / f'{name}.py'), str(work_dir),
        str(cwd), FAST + list(extra))


MIOU_STAR = {'mIoU*': [c for c in CS16 if c not in ('wall', 'fence', 'pole')]}


@pytest.mark.slow
def test_source_only_trains_and_reports_miou_star(bench):
    out = _train('source_only', bench / 'work' / 'source_only', bench)
    assert 'Iter(train) [2/2]' in out
    metrics = check_val_metrics(out, num_classes=16, subsets=MIOU_STAR)
    assert 'mIoU*' in metrics and 'IoU.bicycle' in metrics
    assert 'IoU.terrain' not in out and 'IoU.truck' not in out


@pytest.mark.slow
def test_sac_trains_from_synthia_abn(bench):
    abn_dir = bench / 'work' / 'abn'
    _train('abn', abn_dir, bench, *NO_VAL)
    assert (abn_dir / 'iter_2.pth').is_file()
    out = _train('sac', bench / 'work' / 'sac', bench,
                 f'load_from={abn_dir}/iter_2.pth', 'model.teacher.interval=1')
    assert 'Load checkpoint from' in out
    # the 16-class ABN checkpoint fits the 16-class SAC student (the teacher
    # and the pseudo-labeller state are not in an ABN checkpoint)
    assert 'size mismatch' not in out
    for line in out.splitlines():
        if line.startswith('missing keys'):
            missing = line.split(':', 1)[1].split(', ')
            assert not [k for k in missing if k.strip().startswith(
                'segmentor.')], line
    assert 'tgt.loss_sac' in out and 'pl_coverage' in out
    assert 'Iter(train) [2/2]' in out
    check_val_metrics(out, num_classes=16, subsets=MIOU_STAR)


@pytest.mark.slow
def test_mrnet_stage2_from_synthia_stage1(bench):
    """Stage I -> 16-class pseudo labels (tools/gen_pseudo_labels.py) ->
    stage II, as the benchmark manifest chains them."""
    work = bench / 'work'
    _train('mrnet', work / 'mrnet', bench, *NO_VAL)
    ckpt = work / 'mrnet' / 'iter_2.pth'
    pseudo = work / 'pseudo_mrnet'
    run([
        PY,
        str(CONFIGS.parent / 'tools' / 'gen_pseudo_labels.py'),
        str(CONFIGS / 'synthetic_synthia' / 'mrnet.py'),
        str(ckpt), '--out', str(pseudo)
    ], cwd=str(bench))
    assert len(list(pseudo.rglob('*.png'))) == NUM_TRAIN
    out = _train('mrnet_stage2', work / 'mrnet_stage2', bench, *NO_VAL,
                 f'load_from={ckpt}',
                 f'train_dataloader.dataset.pseudo_label_dir={pseudo}')
    assert 'Load checkpoint from' in out and 'size mismatch' not in out
    assert 'Iter(train) [2/2]' in out and 'loss_mr' in out
