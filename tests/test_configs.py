"""Every config under configs/ loads, builds and is self-consistent; the
real-scale configs state the papers' settings.

For each ``configs/**/*.py`` outside ``_base_`` and ``benchmarks`` (the
benchmark manifests, tested in test_benchmark_manifest.py; found by glob,
so new configs are covered automatically):

- ``Config.fromfile`` works and the runner's top-level keys are present;
- the model builds with ``MODELS.build`` (ImageNet ``Pretrained`` inits
  stripped: nothing is downloaded), the optimizer wrappers build with the
  expected parts (``segmentor`` + ``disc_<head>`` per discriminator) and
  learning rates (``decode_head`` lr multiplier), and the head wiring gives
  ``num_classes`` logits at output stride 8 (a forward pass on the ``meta``
  device: shapes only, no compute);
- the data side: registered types, pipelines ending with ``PackSegInputs``,
  one label space for source, target, validation, test and the model,
  method vs. dataset consistency (a method that uses target images gets a
  ``UDADataset``), crops that fit the data preprocessor's padding size.
  No dataset is instantiated (no data needed).

The real-scale data pipelines also run once on a few tiny images written in
the raw formats (``test_pipelines_run_on_tiny_data``).

The paper-fact tests at the bottom pin the real-scale MRNet / AdaptSegNet /
source-only / SAC / MR+SAC configs to the settings of the papers.
"""
import inspect
import os.path as osp
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.registry import init_default_scope

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, METRICS, MODELS,
                            TRANSFORMS)
from mmseg_uda.datasets import UDADataset
from mmseg_uda.datasets.label_mappings import (get_label_mapping,
                                               get_label_space)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.formats import (make_cityscapes, make_gta5,  # noqa: E402
                             make_robotcar, make_synthia, random_ids)

init_default_scope('mmseg')

REPO = Path(__file__).resolve().parents[1]
CONFIG_ROOT = REPO / 'configs'
# configs/own_camera/ (README "Adapt to your own camera") has no labelled
# target, hence no validation: tests/test_own_camera.py trains its configs
CONFIGS = sorted(
    p.relative_to(CONFIG_ROOT).with_suffix('').as_posix()
    for p in CONFIG_ROOT.rglob('*.py')
    if not {'_base_', 'benchmarks', 'own_camera'}
    & set(p.relative_to(CONFIG_ROOT).parts))


@lru_cache(maxsize=None)
def _load(name: str) -> Config:
    return Config.fromfile(str(CONFIG_ROOT / f'{name}.py'))


def load(name: str) -> Config:
    """A fresh copy of the parsed config (tests may modify it)."""
    return _load(name).copy()


def _get(node, path: str, default=KeyError):
    for key in path.split('.'):
        if isinstance(node, (list, tuple)):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        elif default is KeyError:
            raise KeyError(path)
        else:
            return default
    return node


def _strip_pretrained(node) -> int:
    """Set every ``init_cfg`` of type Pretrained (and ``pretrained``) to
    None in place; return how many were stripped."""
    count = 0
    if isinstance(node, dict):
        for key in list(node.keys()):
            value = node[key]
            if key == 'pretrained' and value:
                node[key] = None
                count += 1
            elif key == 'init_cfg' and _is_pretrained(value):
                node[key] = None
                count += 1
            else:
                count += _strip_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            count += _strip_pretrained(item)
    return count


def _is_pretrained(init_cfg) -> bool:
    items = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(
        isinstance(i, dict) and i.get('type') == 'Pretrained' for i in items)


# ----------------------------------------------------------------------------
# label spaces of dataset configs, without instantiating the datasets
# ----------------------------------------------------------------------------


def _default_arg(cls, name):
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        param = inspect.signature(init).parameters.get(name)
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return None


def dataset_classes(ds_cfg) -> tuple:
    """Class names a dataset config yields (its label space)."""
    cls = DATASETS.get(ds_cfg['type'])
    assert cls is not None, f'dataset type {ds_cfg["type"]} not registered'
    if cls is UDADataset:
        src = dataset_classes(ds_cfg['source'])
        tgt = dataset_classes(ds_cfg['target'])
        assert src == tgt, (f'UDADataset source classes {src} differ from '
                            f'target classes {tgt}')
        return tgt
    if 'dataset' in ds_cfg and isinstance(ds_cfg['dataset'], dict):
        return dataset_classes(ds_cfg['dataset'])  # wrappers
    if getattr(cls, 'ID_SPACE', ''):  # mmseg_uda raw-format datasets
        mapping = ds_cfg.get('label_mapping',
                             _default_arg(cls, 'label_mapping'))
        if mapping is None:
            mapping = cls.DEFAULT_LABEL_MAPPING
        spec = get_label_mapping(mapping)
        assert spec.id_space == cls.ID_SPACE, (
            f'{cls.__name__} stores {cls.ID_SPACE!r} label ids but '
            f'label_mapping {mapping!r} reads {spec.id_space!r} ids')
        return tuple(get_label_space(spec.label_space)['classes'])
    meta = ds_cfg.get('metainfo') or getattr(cls, 'METAINFO', {})
    return tuple(meta['classes'])


def _leaf_datasets(ds_cfg):
    """(role, config) of every dataset holding a pipeline."""
    if ds_cfg['type'] == 'UDADataset':
        return [('source', ds_cfg['source']), ('target', ds_cfg['target'])]
    return [('train', ds_cfg)]


def _types(pipeline):
    return [t['type'] for t in pipeline]


# ----------------------------------------------------------------------------
# every config
# ----------------------------------------------------------------------------


def test_configs_found():
    assert len(CONFIGS) >= 20
    for name in ('mrnet/gta2cs', 'sac/gta2cs_r101', 'synthetic/mrnet'):
        assert name in CONFIGS


@pytest.mark.parametrize('name', CONFIGS, ids=CONFIGS)
def test_config_loads(name):
    cfg = load(name)
    for key in ('model', 'train_dataloader', 'val_dataloader',
                'test_dataloader', 'val_evaluator', 'test_evaluator',
                'optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg',
                'test_cfg', 'default_hooks', 'default_scope'):
        assert key in cfg, f'{name}: missing {key}'
    assert cfg.default_scope == 'mmseg'
    assert 'mmseg_uda' in cfg.custom_imports['imports']
    assert cfg.model.type == 'UDASegmentor'
    assert cfg.optim_wrapper.get('constructor') == \
        'UDAOptimWrapperConstructor'
    # the composition got a whole segmentor and preprocessor
    assert cfg.model.segmentor.type and cfg.model.segmentor.backbone.type
    assert cfg.model.data_preprocessor.type == 'UDADataPreProcessor'
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    for hook in cfg.get('custom_hooks', []):
        assert HOOKS.get(hook['type']) is not None, hook['type']
    # a momentum teacher is kept up to date only by EMATeacherHook
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert ('EMATeacherHook' in hooks) == bool(cfg.model.get('teacher')), \
        f'{name}: EMATeacherHook and model.teacher go together'
    if cfg.model.get('self_training'):
        assert cfg.model.get('teacher'), 'self-training needs a teacher'


@pytest.mark.parametrize('name', CONFIGS, ids=CONFIGS)
def test_model_and_optim_wrapper_build(name):
    cfg = load(name)
    model_cfg = cfg.model.to_dict()
    _strip_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    classes = dataset_classes(cfg.val_dataloader.dataset)
    assert model.num_classes == len(classes)
    assert model.segmentor.decode_head.num_classes == len(classes)
    assert (model.teacher is not None) == bool(cfg.model.get('teacher'))
    assert (model.adversary is not None) == bool(cfg.model.get('adversary'))
    # a method that uses target images (as its parts declare) gets a
    # UDADataset
    if model.uses_target:
        assert cfg.train_dataloader.dataset['type'] == 'UDADataset', \
            f'{name}: the method needs target images'

    # optimizer wrappers: one per trainable part
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, OptimWrapperDict)
    expected = {'segmentor'}
    if cfg.model.get('adversary'):
        expected |= {
            f'disc_{head}'
            for head in cfg.model.adversary.discriminators.keys()
        }
    assert set(wrapper.keys()) == expected

    # every trainable segmentor parameter once, decode_head at lr x mult
    seg_cfg = cfg.optim_wrapper.segmentor
    base_lr = seg_cfg.optimizer.lr
    mult = _get(seg_cfg, 'paramwise_cfg.custom_keys.decode_head.lr_mult', 1.)
    names = {id(p): n for n, p in model.segmentor.named_parameters()}
    seen = []
    for group in wrapper['segmentor'].optimizer.param_groups:
        for p in group['params']:
            n = names[id(p)]
            seen.append(n)
            want = base_lr * (mult if n.startswith('decode_head.') else 1.)
            assert group['lr'] == pytest.approx(want), n
    trainable = [n for n, p in model.segmentor.named_parameters()
                 if p.requires_grad]
    assert sorted(seen) == sorted(trainable)
    for part in expected - {'segmentor'}:
        disc = model.adversary.discriminators[part[len('disc_'):]]
        n_opt = sum(
            len(g['params'])
            for g in wrapper[part].optimizer.param_groups)
        assert n_opt == len(list(disc.parameters()))

    # head wiring (in_channels / in_index vs. the backbone outputs): shapes
    # only, on the meta device; DeepLabv2 models have output stride 8, the
    # stock SegFormer / DeepLabV3+ heads of configs/mix stride 4
    model.eval()
    model.to('meta')
    with torch.no_grad():
        out = model(torch.empty(1, 3, 64, 128, device='meta'), None,
                    mode='tensor')
    outs = out if isinstance(out, (tuple, list)) else [out]
    stride = 4 if cfg.model.segmentor.decode_head.type in (
        'SegformerHead', 'DepthwiseSeparableASPPHead') else 8
    for logits in outs:
        assert tuple(logits.shape) == (1, len(classes), 64 // stride,
                                       128 // stride), name


@pytest.mark.parametrize('name', CONFIGS, ids=CONFIGS)
def test_data_configs(name):
    cfg = load(name)
    num_classes = cfg.model.segmentor.decode_head.num_classes
    train = cfg.train_dataloader
    assert DATA_SAMPLERS.get(train.sampler['type']) is not None
    is_uda = train.dataset['type'] == 'UDADataset'
    # UDA samplers need a UDADataset and vice versa
    uda_sampler = train.sampler['type'] in ('UDAInfiniteSampler',
                                            'ClassBalancedTargetSampler')
    assert uda_sampler == is_uda, f'{name}: sampler/dataset mismatch'
    if train.sampler['type'] == 'ClassBalancedTargetSampler':
        assert train.sampler.get('class_stats_file')

    # one label space everywhere
    spaces = {
        'train': dataset_classes(train.dataset),
        'val': dataset_classes(cfg.val_dataloader.dataset),
        'test': dataset_classes(cfg.test_dataloader.dataset),
    }
    assert len(set(spaces.values())) == 1, spaces
    assert len(spaces['val']) == num_classes

    # evaluators: registered, subsets of the class list
    for key in ('val_evaluator', 'test_evaluator'):
        evaluator = cfg[key]
        for ev in (evaluator if isinstance(evaluator, list) else [evaluator]):
            assert METRICS.get(ev['type']) is not None
            for subset, members in ev.get('class_subsets', {}).items():
                unknown = set(members) - set(spaces['val'])
                assert not unknown, f'{subset}: unknown classes {unknown}'

    size = cfg.model.data_preprocessor.get('size')
    for role, ds in _leaf_datasets(train.dataset):
        pipeline = ds['pipeline']
        types = _types(pipeline)
        for t in types:
            assert TRANSFORMS.get(t) is not None, t
        assert types[-1] == 'PackSegInputs'
        assert types[0] in ('LoadImageFromFile', 'LoadCheckedImageFromFile')
        labelled = ds.get('with_labels', True) and role != 'target'
        if labelled:
            assert 'LoadMappedAnnotations' in types or \
                'LoadAnnotations' in types, f'{role} pipeline without labels'
        if ds.get('with_labels', True) is False:
            assert 'LoadMappedAnnotations' not in types, \
                f'{role}: unlabelled dataset but the pipeline loads labels'
        # crops fit the size batches are padded to
        for t in pipeline:
            if t['type'] == 'RandomCrop':
                assert size is not None
                assert tuple(t['crop_size'])[0] <= size[0]
                assert tuple(t['crop_size'])[1] <= size[1]
    for key in ('val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        types = _types(ds['pipeline'])
        for t in types:
            assert TRANSFORMS.get(t) is not None, t
        assert types[-1] == 'PackSegInputs'
        assert ds.get('with_labels', True), f'{key}: needs labels'
        anns = [i for i, t in enumerate(types) if 'Annotations' in t]
        assert anns, f'{key}: pipeline loads no labels'
        # mmseg convention: labels are loaded after Resize, so evaluation
        # happens at the original resolution
        resizes = [i for i, t in enumerate(types) if 'Resize' in t]
        assert all(i < anns[0] for i in resizes), types


# ----------------------------------------------------------------------------
# paper facts of the real-scale configs
# ----------------------------------------------------------------------------

CS19 = get_label_space('cityscapes19')['classes']
CS16 = get_label_space('cityscapes16')['classes']
RC9 = get_label_space('robotcar9')['classes']
BENCHMARKS = {
    # name: (source type, target type, val type, classes)
    'gta2cs': ('GTA5Dataset', 'CityscapesRawDataset', 'CityscapesRawDataset',
               CS19),
    'synthia2cs': ('SynthiaDataset', 'CityscapesRawDataset',
                   'CityscapesRawDataset', CS16),
    'cs2robotcar': ('CityscapesRawDataset', 'RobotCarDataset',
                    'RobotCarDataset', RC9),
}
MRNET_FAMILY = [
    f'{method}/{bench}' for method in ('source_only', 'adaptsegnet', 'mrnet')
    for bench in BENCHMARKS
]
SAC_CONFIGS = [
    f'sac/{bench}_{bb}' for bench in ('gta2cs', 'synthia2cs')
    for bb in ('r101', 'vgg16')
]
ABN_CONFIGS = [
    f'sac/abn_{bench}_{bb}' for bench in ('gta2cs', 'synthia2cs')
    for bb in ('r101', 'vgg16')
]


def _train_datasets(cfg):
    ds = cfg.train_dataloader.dataset
    if ds['type'] == 'UDADataset':
        return ds['source'], ds['target']
    return ds, None


def _check_benchmark(cfg, bench):
    src_type, tgt_type, val_type, classes = BENCHMARKS[bench]
    source, target = _train_datasets(cfg)
    assert source['type'] == src_type
    if target is not None:
        assert target['type'] == tgt_type
        assert target.get('with_labels') is False
    val = cfg.val_dataloader.dataset
    assert val['type'] == val_type
    if val_type == 'CityscapesRawDataset':
        assert val['data_prefix']['img_path'] == 'leftImg8bit/val'
    else:
        assert val['data_prefix']['img_path'] == 'val'
    assert dataset_classes(val) == tuple(classes)
    assert cfg.model.segmentor.decode_head.num_classes == len(classes)
    subsets = cfg.val_evaluator.get('class_subsets', {})
    if bench == 'synthia2cs':
        # mIoU* over 13 classes: the 16 without wall, fence and pole
        assert set(subsets['mIoU*']) == set(CS16) - {'wall', 'fence', 'pole'}
        assert len(subsets['mIoU*']) == 13
    else:
        assert not subsets


def _check_paper_resnet(backbone):
    """The papers' DeepLabv2 ResNet-101 (tests/test_paper_backbone.py
    checks the built modules)."""
    assert backbone.type == 'ResNet' and backbone.depth == 101
    assert backbone.style == 'caffe' and backbone.deep_stem is False
    assert backbone.contract_dilation is False
    assert tuple(backbone.dilations) == (1, 1, 2, 4)
    assert tuple(backbone.strides) == (1, 2, 1, 1)


def _check_imagenet_init(cfg):
    init = cfg.model.segmentor.backbone.init_cfg
    assert _is_pretrained(init), 'backbones start from ImageNet weights'


def _scheduler(cfg):
    assert len(cfg.param_scheduler) == 1
    return cfg.param_scheduler[0]


@pytest.mark.parametrize('name', MRNET_FAMILY, ids=MRNET_FAMILY)
def test_mrnet_protocol(name):
    """MRNet (Zheng & Yang, IJCAI 2020), Sec. 4.1, and its baselines."""
    cfg = load(name)
    method, bench = name.split('/')
    _check_benchmark(cfg, bench)
    _check_imagenet_init(cfg)
    seg = cfg.model.segmentor
    _check_paper_resnet(seg.backbone)
    assert seg.decode_head.type == 'DualDeepLabV2Head'
    assert tuple(seg.decode_head.in_index) == (2, 3)  # layer3, layer4
    opt = cfg.optim_wrapper.segmentor
    assert opt.optimizer == dict(type='SGD', lr=2e-4, momentum=0.9,
                                 weight_decay=5e-4)
    assert opt.paramwise_cfg.custom_keys.decode_head.lr_mult == 10
    sched = _scheduler(cfg)
    assert sched.type == 'PolyLR' and sched.power == 0.9
    assert sched.end == 100000 and cfg.train_cfg.max_iters == 25000
    assert cfg.train_dataloader.batch_size == 2
    assert tuple(cfg.model.data_preprocessor.size) == (512, 1024)
    source, target = _train_datasets(cfg)
    crops = [t for t in source.pipeline if t['type'] == 'RandomCrop']
    assert [tuple(t['crop_size']) for t in crops] == [(512, 1024)]
    if bench == 'gta2cs':
        resize = [t for t in source.pipeline if t['type'] == 'Resize']
        assert [tuple(t['scale']) for t in resize] == [(1280, 640)]
    if bench in ('gta2cs', 'synthia2cs') and target is not None:
        resize = [t for t in target.pipeline if t['type'] == 'Resize']
        assert [tuple(t['scale']) for t in resize] == [(1024, 512)]

    model = cfg.model
    if method == 'source_only':
        assert target is None
        assert not model.get('adversary') and not model.get('memory_reg')
        return
    assert model.adversary.loss_weights == dict(primary=0.001, aux=0.0002)
    assert cfg.optim_wrapper.discriminator.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.99))
    loss = seg.decode_head.loss_decode
    if method == 'adaptsegnet':
        assert not model.get('memory_reg')
        assert loss.type == 'CrossEntropyLoss'
    else:
        # MRNet Sec. 4.1: CBST's class balance (release weights)
        assert loss.type == 'ClassBalancedCrossEntropyLoss'
        assert loss.num_classes == seg.decode_head.num_classes
        assert (loss.max_weight, loss.min_pixels) == (7.0, 64 * 64)
        assert model.memory_reg == dict(
            type='MemoryRegLoss', mode='symmetric', loss_weight=0.1)
        assert model.memory_reg_start_iter == 10000
        assert model.get('memory_reg_on', 'target') == 'target'


def _check_sac_optimiser(cfg):
    opt = cfg.optim_wrapper.segmentor
    assert opt.optimizer == dict(type='SGD', lr=2.5e-4, momentum=0.9,
                                 weight_decay=5e-4)
    assert opt.paramwise_cfg.custom_keys.decode_head.lr_mult == 10
    sched = _scheduler(cfg)
    assert sched.type == 'ConstantLR' and sched.factor == 1.0
    assert sched.end >= cfg.train_cfg.max_iters


def _check_sac_model(cfg, name):
    seg = cfg.model.segmentor
    _check_imagenet_init(cfg)
    if name.endswith('vgg16'):
        assert seg.backbone.type == 'VGG16DeepLabV2'
        assert seg.backbone.norm_cfg is not None  # BN: ABN adapts it
    else:
        _check_paper_resnet(seg.backbone)
    assert seg.decode_head.type == 'DeepLabV2Head'  # single classifier
    assert tuple(seg.decode_head.dilations
                 if 'dilations' in seg.decode_head else
                 (6, 12, 18, 24)) == (6, 12, 18, 24)


@pytest.mark.parametrize('name', ABN_CONFIGS, ids=ABN_CONFIGS)
def test_sac_abn_protocol(name):
    """SAC stage 1 (Araslanov & Roth, CVPR 2021), Sec. 3.4 / 4.1."""
    cfg = load(name)
    bench = name.split('_')[1]
    _check_benchmark(cfg, bench)
    _check_sac_model(cfg, name)
    _check_sac_optimiser(cfg)
    model = cfg.model
    assert model.update_target_bn_stats is True
    assert not model.get('self_training') and not model.get('adversary')
    assert tuple(model.data_preprocessor.size) == (640, 640)
    assert cfg.train_dataloader.sampler.type == 'UDAInfiniteSampler'
    # batch 16 = 4 per GPU on 4 GPUs, one target image per source image
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.get('batch_sampler') is None
    source, target = _train_datasets(cfg)
    for ds in (source, target):
        types = _types(ds.pipeline)
        rr = [t for t in ds.pipeline if t['type'] == 'RandomResize']
        assert len(rr) == 1 and tuple(rr[0]['ratio_range']) == (0.5, 2.0)
        crops = [tuple(t['crop_size']) for t in ds.pipeline
                 if t['type'] == 'RandomCrop']
        assert crops == [(640, 640)]
        assert 'RandomFlip' in types


@pytest.mark.parametrize('name', SAC_CONFIGS, ids=SAC_CONFIGS)
def test_sac_protocol(name):
    """SAC adaptation (Araslanov & Roth, CVPR 2021), Sec. 3 / 4.1."""
    cfg = load(name)
    bench = name.split('/')[1].split('_')[0]
    _check_benchmark(cfg, bench)
    _check_sac_model(cfg, name)
    _check_sac_optimiser(cfg)
    model = cfg.model
    assert model.freeze_bn_stats is True
    assert model.teacher == dict(momentum=0.01, interval=100)
    st = model.self_training
    assert st.type == 'AugmentationConsistency'
    assert st.views.num_views == 4
    assert tuple(st.views.scale_range) == (0.5, 1.0)
    assert st.pseudo_labeler.zeta == 0.75
    assert st.pseudo_labeler.beta == 1e-3
    assert st.pseudo_labeler.momentum == 0.99
    assert st.pseudo_labeler.min_threshold is None  # paper (release: floor)
    assert st.loss.type == 'FocalConfidenceLoss'
    assert st.loss.focal_power == 3.0
    assert st.loss.loss_weight == (2.0 if name.endswith('vgg16') else 5.0)
    sampler = cfg.train_dataloader.sampler
    assert sampler.type == 'ClassBalancedTargetSampler'
    assert sampler.uniform_ratio == 0.25
    # 8 source + 2 target images (x 4 views) per step, on one process
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.batch_sampler == dict(
        type='UDABatchSampler', target_batch_size=2)
    assert tuple(model.data_preprocessor.size) == (512, 1024)
    _, target = _train_datasets(cfg)
    resize = [t for t in target.pipeline if t['type'] == 'Resize']
    assert [tuple(t['scale']) for t in resize] == [(1024, 512)]
    # evaluation at full resolution
    assert 'Resize' not in _types(cfg.val_dataloader.dataset.pipeline)
    _check_follows_abn(cfg, name.replace('sac/', 'sac/abn_'))


def _check_follows_abn(cfg, abn_name):
    """The adaptation config starts from its ABN config's checkpoint and
    class statistics: same architecture, same target image list."""
    assert abn_name in CONFIGS
    abn = load(abn_name)
    work_dir = osp.join('work_dirs', abn_name)
    assert cfg.load_from.startswith(work_dir + '/')
    assert cfg.train_dataloader.sampler.class_stats_file == osp.join(
        work_dir, 'class_stats.npy')
    assert cfg.model.segmentor == abn.model.segmentor
    # tools/compute_class_stats.py runs the ABN config's test_pipeline
    assert abn.get('test_pipeline')
    _, target = _train_datasets(cfg)
    _, abn_target = _train_datasets(abn)
    for key in ('type', 'data_root', 'data_prefix', 'ann_file',
                'label_mapping'):
        assert target.get(key) == abn_target.get(key), key


def test_mrnet_sac():
    """SAC + memory regularisation: the dual-head model, MR on target."""
    cfg = load('mrnet_sac/gta2cs')
    sac = load('sac/gta2cs_r101')
    _check_benchmark(cfg, 'gta2cs')
    _check_sac_optimiser(cfg)
    assert cfg.model.segmentor.decode_head.type == 'DualDeepLabV2Head'
    assert cfg.model.memory_reg.loss_weight == 0.1
    assert cfg.model.self_training == sac.model.self_training
    assert cfg.model.teacher == sac.model.teacher
    assert cfg.model.freeze_bn_stats is True
    assert cfg.train_dataloader.dataset == sac.train_dataloader.dataset
    _check_follows_abn(cfg, 'mrnet_sac/abn_gta2cs')
    abn = load('mrnet_sac/abn_gta2cs')
    assert abn.model.update_target_bn_stats is True
    assert abn.train_dataloader == load(
        'sac/abn_gta2cs_r101').train_dataloader


def test_real_scale_configs_have_paper_header():
    """Each real-scale config starts with a comment naming the paper and
    the expected result."""
    real = MRNET_FAMILY + SAC_CONFIGS + ABN_CONFIGS + [
        'mrnet_sac/gta2cs', 'mrnet_sac/abn_gta2cs'
    ]
    for name in real:
        text = (CONFIG_ROOT / f'{name}.py').read_text()
        header = text.split('_base_')[0]
        assert header.startswith('#'), name
        assert 'Expected' in header, name
        assert ('IJCAI 2020' in header) or ('CVPR 2021' in header), name


# ----------------------------------------------------------------------------
# the real-scale pipelines on tiny fake data (one config per dataset base)
# ----------------------------------------------------------------------------

PIPELINE_CONFIGS = [
    'source_only/gta2cs', 'mrnet/gta2cs', 'mrnet/synthia2cs',
    'mrnet/cs2robotcar', 'sac/abn_gta2cs_r101', 'sac/gta2cs_r101',
    'sac/abn_synthia2cs_r101', 'sac/synthia2cs_r101'
]
DATA_ROOTS = {
    'data/gta': 'gta',
    'data/synthia/RAND_CITYSCAPES': 'synthia',
    'data/cityscapes': 'cityscapes',
    'data/Oxford_Robot_ICCV19': 'robotcar',
}


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    """Two samples per split in each raw format, at small sizes with the
    datasets' aspect ratios."""
    root = tmp_path_factory.mktemp('tiny_data')
    make_gta5(str(root / 'gta'),
              [random_ids((26, 48), range(34), seed=s) for s in range(2)])
    make_synthia(str(root / 'synthia'),
                 [random_ids((38, 64), range(23), seed=s) for s in range(2)])
    for split in ('train', 'val'):
        make_cityscapes(
            str(root / 'cityscapes'), split, {
                f'city/city_{k:06d}_000019': random_ids(
                    (32, 64), range(34), seed=k)
                for k in range(2)
            })
    make_robotcar(
        str(root / 'robotcar'),
        {f'v{k}': random_ids((48, 64), range(19), seed=k)
         for k in range(2)},
        train_shapes={f't{k}': (48, 64)
                      for k in range(2)})
    return root


def _redirect_roots(node, root):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'data_root' and value in DATA_ROOTS:
                node[key] = str(root / DATA_ROOTS[value])
            else:
                _redirect_roots(value, root)
    elif isinstance(node, list):
        for item in node:
            _redirect_roots(item, root)


def _check_sample(sample, num_classes, crop=None, labelled=True):
    img = sample['inputs']
    assert img.dtype == torch.uint8 and img.shape[0] == 3
    if crop is not None:
        assert img.shape[1] <= crop[0] and img.shape[2] <= crop[1]
    if labelled:
        seg = sample['data_samples'].gt_sem_seg.data
        assert seg.shape[-2:] == img.shape[-2:]
        values = set(seg.unique().tolist()) - {255}
        assert values and max(values) < num_classes


@pytest.mark.parametrize('name', PIPELINE_CONFIGS, ids=PIPELINE_CONFIGS)
def test_pipelines_run_on_tiny_data(name, tiny_data):
    cfg = load(name)
    num_classes = cfg.model.segmentor.decode_head.num_classes
    size = tuple(cfg.model.data_preprocessor.size)
    train_cfg = cfg.train_dataloader.dataset.to_dict()
    _redirect_roots(train_cfg, tiny_data)
    train = DATASETS.build(train_cfg)
    if isinstance(train, UDADataset):
        item = train[(1, 0)]
        _check_sample(item, num_classes, size)
        # fixed-scale pipelines reach the crop size (random down-scaling
        # may give smaller crops, padded by the data preprocessor)
        pipeline = train_cfg['source']['pipeline']
        crops = [t['crop_size'] for t in pipeline if t['type'] == 'RandomCrop']
        if crops and 'RandomResize' not in _types(pipeline):
            assert tuple(item['inputs'].shape[1:]) == tuple(crops[0])
        target = dict(inputs=item['target_inputs'],
                      data_samples=item['target_data_samples'])
        _check_sample(target, num_classes, size, labelled=False)
    else:
        _check_sample(train[0], num_classes, size)
    val_cfg = cfg.val_dataloader.dataset.to_dict()
    _redirect_roots(val_cfg, tiny_data)
    val = DATASETS.build(val_cfg)
    assert len(val) == 2
    item = val[0]
    seg = item['data_samples'].gt_sem_seg.data
    # labels stay at the original image size (evaluation at full size)
    assert tuple(seg.shape[-2:]) == tuple(
        item['data_samples'].ori_shape), name
    assert set(seg.unique().tolist()) - {255}


# ----------------------------------------------------------------------------
# the single-classifier DeepLabv2 head used by the SAC configs
# ----------------------------------------------------------------------------


def test_deeplabv2_head_sums_dilated_branches():
    head = MODELS.build(
        dict(type='DeepLabV2Head', in_channels=8, in_index=1,
             num_classes=3))
    assert head.dropout is None
    assert [c.dilation for c in head.conv_seg.convs] == [(6, 6), (12, 12),
                                                         (18, 18), (24, 24)]
    feats = [torch.randn(2, 4, 5, 6), torch.randn(2, 8, 5, 6)]
    out = head(feats)
    expected = sum(conv(feats[1]) for conv in head.conv_seg.convs)
    torch.testing.assert_close(out, expected)
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 10, 12)))
    losses = head.loss_by_feat(out, [sample, sample])
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert torch.isfinite(losses['loss_ce'])
    pred = head.predict_by_feat(out, [dict(img_shape=(10, 12))] * 2)
    assert pred.shape == (2, 3, 10, 12)


def test_deeplabv2_head_rejects_multiple_stages():
    with pytest.raises(AssertionError):
        MODELS.build(
            dict(type='DeepLabV2Head', in_channels=(4, 8), in_index=(0, 1),
                 num_classes=3))


def test_config_dict_helpers():
    cfg = ConfigDict(a=dict(init_cfg=dict(type='Pretrained', checkpoint='x'),
                            b=[dict(pretrained='y')]))
    d = cfg.to_dict()
    assert _strip_pretrained(d) == 2
    assert d['a']['init_cfg'] is None and d['a']['b'][0]['pretrained'] is None


def _start_config(load_from: str):
    """The config whose run writes ``load_from``
    (``work_dirs/<dir>/iter_N.pth``): ``configs/<dir>.py``, or, for the
    flat work dirs of the synthetic and mix configs
    (``work_dirs/synthetic_synthia_abn``), the config the folder name
    spells with one of its underscores read as a ``/``."""
    work = osp.dirname(load_from)[len('work_dirs/'):]
    names = [work] + [
        work[:i] + '/' + work[i + 1:] for i, c in enumerate(work) if c == '_'
    ]
    names += [n + '_mit-b0_synthetic' for n in names]  # mix/abn_segformer
    found = [n for n in names if n in CONFIGS]
    return found[0] if found else None


CONTINUATIONS = [
    n for n in CONFIGS if str(load(n).get('load_from') or '').startswith(
        'work_dirs/')
]


@pytest.mark.parametrize('name', CONTINUATIONS)
def test_continuation_preprocesses_like_its_start(name):
    """A config that starts from another config's checkpoint feeds the
    network the same way: channel order, mean and std (a model trained on
    RGB minus the BGR caffe mean must not be adapted on BGR input)."""
    cfg = load(name)
    start = _start_config(cfg.load_from)
    assert start is not None, f'{name}: no config writes {cfg.load_from}'
    keys = ('mean', 'std', 'bgr_to_rgb')
    ours = {k: cfg.model.data_preprocessor.get(k) for k in keys}
    theirs = {k: load(start).model.data_preprocessor.get(k) for k in keys}
    assert ours == theirs, f'{name} vs its start {start}'
