"""Export a trained UDA model as a plain MMSegmentation model.

A training checkpoint of a :class:`~mmseg_uda.models.UDASegmentor` holds the
student segmentor (``segmentor.*``), for SAC its momentum teacher
(``teacher.module.*``, an EMA copy of the student), discriminators, the
class prior and optimizer states. Users of the adapted model need only one
network: a stock ``EncoderDecoder`` config and its weights, which load with
``mmseg.apis.init_model`` and ``MMSegInferencer``.

:func:`deploy_config` turns the training config into that plain config,
:func:`network_state_dict` picks one network's weights in mmseg's key
layout, and :func:`export_model` writes both.
"""
import copy
import os
import os.path as osp
import pprint
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

from ..utils.device_config import _replace_norm_type

#: Networks of a UDA checkpoint that can be exported, with the key prefix of
#: their weights in the UDASegmentor state dict.
NETWORK_PREFIXES = {'student': 'segmentor.', 'teacher': 'teacher.module.'}
#: Transforms that load labels: not part of an inference pipeline.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadMappedAnnotations',
                      'LoadDepthAnnotation', 'LoadBiomedicalAnnotation')
#: mmseg_uda transforms with a stock equivalent for inference.
STOCK_TRANSFORMS = {'LoadCheckedImageFromFile': 'LoadImageFromFile'}


def _plain(obj):
    """``obj`` with ConfigDicts turned into dicts (deep copy)."""
    if isinstance(obj, ConfigDict):
        obj = obj.to_dict()
    return copy.deepcopy(obj)


def student_config(model_cfg: dict) -> dict:
    """The plain segmentor config inside a training ``model`` config.

    Args:
        model_cfg (dict): ``cfg.model``: a ``UDASegmentor`` (its
            ``segmentor`` is taken, with the UDA ``data_preprocessor``
            turned into mmseg's ``SegDataPreProcessor``) or a plain mmseg
            segmentor (taken as is).

    Returns:
        dict: An ``EncoderDecoder``-like config with ``SyncBN`` replaced by
        ``BN`` and no pretrained initialisation (the weights come from the
        exported checkpoint).
    """
    model_cfg = _plain(model_cfg)
    if 'segmentor' in model_cfg:
        seg = model_cfg['segmentor']
        pre = model_cfg.get('data_preprocessor')
        if pre is not None:
            pre = dict(pre, type='SegDataPreProcessor')
        seg['data_preprocessor'] = pre
    else:
        seg = model_cfg
    _replace_norm_type(seg, 'SyncBN', 'BN')
    seg.pop('pretrained', None)
    seg.pop('train_cfg', None)
    backbone = seg.get('backbone')
    if isinstance(backbone, dict):
        backbone['init_cfg'] = None
        backbone.pop('pretrained', None)
    return seg


def inference_pipeline(pipeline: Sequence[dict]) -> List[dict]:
    """A test pipeline without label loading, with stock transforms.

    Args:
        pipeline (list[dict]): The training config's test pipeline.

    Returns:
        list[dict]: A copy without ``ANNOTATION_LOADERS``; mmseg_uda's
        checked image loader becomes mmseg's ``LoadImageFromFile``.
    """
    out = []
    for t in _plain(list(pipeline)):
        name = t.get('type')
        if name in ANNOTATION_LOADERS:
            continue
        if name in STOCK_TRANSFORMS:
            t['type'] = STOCK_TRANSFORMS[name]
        out.append(t)
    return out


def _test_pipeline(cfg: Config) -> List[dict]:
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'pipeline')
    if pipeline is None:
        raise KeyError('the config has neither `test_pipeline` nor '
                       'test_dataloader.dataset.pipeline')
    return inference_pipeline(pipeline)


def _types(node) -> List[str]:
    """Every ``type`` name in a nested config."""
    out = []
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            out.append(node['type'])
        for v in node.values():
            out += _types(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            out += _types(v)
    return out


def needs_plugin(model_cfg: dict, pipeline: Sequence[dict]) -> List[str]:
    """Types of the model and pipeline registered by mmseg_uda (not stock
    mmseg / mmcv / mmengine), i.e. what needs ``custom_imports``.

    Args:
        model_cfg (dict): The plain segmentor config.
        pipeline (list[dict]): The inference pipeline.

    Returns:
        list[str]: Sorted type names from mmseg_uda.
    """
    init_default_scope('mmseg')
    found = set()
    for registry, node in ((MODELS, model_cfg), (TRANSFORMS, pipeline)):
        for name in _types(node):
            cls = registry.get(name)
            if cls is not None and cls.__module__.startswith('mmseg_uda'):
                found.add(name)
    return sorted(found)


def _palette_list(palette) -> List[List[int]]:
    return [[int(c) for c in color] for color in palette]


def dataset_meta_of(cfg: Config,
                    checkpoint: Optional[dict] = None) -> Dict[str, list]:
    """Class names and palette of the model's label space.

    Taken from the checkpoint's ``meta.dataset_meta`` (written by MMEngine's
    runner from the training set) when present, else from the config's test
    dataset (built lazily: its files are not listed).

    Returns:
        dict: ``dict(classes=[...], palette=[[r, g, b], ...])`` of plain
        Python types (loads under ``weights_only=True``).
    """
    meta = (checkpoint or {}).get('meta', {}).get('dataset_meta') or {}
    if not meta.get('classes') or not meta.get('palette'):
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        ds_cfg = _plain(cfg.test_dataloader.dataset)
        ds_cfg['lazy_init'] = True
        ds_cfg['pipeline'] = []
        meta = DATASETS.build(ds_cfg).metainfo
    return dict(
        classes=[str(c) for c in meta['classes']],
        palette=_palette_list(meta['palette']))


def deploy_config(cfg: Config, dataset_meta: Dict[str, list]) -> Config:
    """The plain mmseg config of the exported network.

    Args:
        cfg (Config): The training config.
        dataset_meta (dict): ``classes`` and ``palette``.

    Returns:
        Config: ``model`` (the segmentor alone), ``test_pipeline``, a
        ``test_dataloader`` carrying that pipeline and the class names and
        palette as ``metainfo`` (``MMSegInferencer`` reads the pipeline
        there), a visualizer, ``default_scope`` and, when the model or the
        pipeline uses an mmseg_uda type, ``custom_imports``.
    """
    model = student_config(cfg.model)
    pipeline = _test_pipeline(cfg)
    out = dict(
        default_scope='mmseg',
        model=model,
        test_pipeline=pipeline,
        test_dataloader=dict(
            batch_size=1,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            # describes the model's data; point data_root at labelled
            # images to evaluate with tools/test.py
            dataset=dict(
                type='BaseSegDataset',
                metainfo=copy.deepcopy(dataset_meta),
                pipeline=copy.deepcopy(pipeline))),
        dataset_meta=copy.deepcopy(dataset_meta),
        visualizer=dict(
            type='SegLocalVisualizer',
            vis_backends=[dict(type='LocalVisBackend')],
            name='visualizer'))
    plugin = needs_plugin(model, pipeline)
    if plugin:
        out['custom_imports'] = dict(
            imports=['mmseg_uda'], allow_failed_imports=False)
    return Config(out)


def network_state_dict(state_dict: Dict[str, torch.Tensor],
                       network: str = 'student') -> Dict[str, torch.Tensor]:
    """One network's weights in mmseg's key layout.

    Args:
        state_dict (dict): The training checkpoint's ``state_dict`` (of a
            ``UDASegmentor``; a plain segmentor's is returned unchanged for
            ``'student'``).
        network (str): ``'student'`` or ``'teacher'`` (SAC's momentum
            network).

    Returns:
        dict: Keys without the ``segmentor.`` / ``teacher.module.`` prefix;
        nothing else of the checkpoint (discriminators, teacher step count,
        class prior).
    """
    if network not in NETWORK_PREFIXES:
        raise ValueError(f'network must be one of {sorted(NETWORK_PREFIXES)}'
                         f', got {network!r}')
    prefix = NETWORK_PREFIXES[network]
    out = {k[len(prefix):]: v for k, v in state_dict.items()
           if k.startswith(prefix)}
    if not out and network == 'student' and not any(
            k.startswith(p) for k in state_dict
            for p in NETWORK_PREFIXES.values()):
        out = dict(state_dict)  # already a plain segmentor checkpoint
    if not out:
        if network == 'teacher':
            raise KeyError('the checkpoint has no momentum teacher '
                           "('teacher.module.*' weights): only SAC-style "
                           'runs (model.teacher set) have one')
        raise KeyError(f'the checkpoint has no {prefix!r} weights')
    return out


def load_training_checkpoint(path: str) -> dict:
    """``torch.load`` with ``weights_only=True`` (mmseg_uda's allow-list of
    MMEngine's globals is registered on import)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    return torch.load(path, map_location='cpu', weights_only=True)


def build_network(deploy_cfg: Config, state_dict: Dict[str, torch.Tensor],
                  dataset_meta: Optional[dict] = None,
                  device: str = 'cpu') -> torch.nn.Module:
    """Build the plain segmentor of ``deploy_cfg`` and load ``state_dict``
    strictly (every weight present, nothing left over), in eval mode."""
    init_default_scope(deploy_cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(copy.deepcopy(deploy_cfg.model))
    model.load_state_dict(state_dict)  # strict: names missing/extra keys
    model.cfg = deploy_cfg
    model.dataset_meta = dataset_meta or deploy_cfg.get('dataset_meta')
    return model.to(device).eval()


def write_config(cfg: Config, path: str, header: str = '') -> None:
    """Write ``cfg`` as a compact Python config file (``pprint`` of each
    top-level key; MMEngine's ``Config.dump`` spreads every list element
    over its own line)."""
    lines = [f'# {line}' for line in header.splitlines()]
    for key, value in cfg.to_dict().items():
        lines.append(f'{key} = ' + pprint.pformat(value, width=79,
                                                  sort_dicts=False,
                                                  compact=True))
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    Config.fromfile(path)  # it reads back


def export_model(config: str,
                 checkpoint: str,
                 out_dir: str,
                 network: str = 'student',
                 cfg_options: Optional[dict] = None) -> Dict[str, str]:
    """Write ``out_dir/config.py`` and ``out_dir/model.pth``.

    Args:
        config (str): Training config file.
        checkpoint (str): Training checkpoint.
        out_dir (str): Output folder (created).
        network (str): ``'student'`` or ``'teacher'``.
        cfg_options (dict, optional): Overrides of the training config.

    Returns:
        dict: Paths ``config`` and ``checkpoint`` of the written files.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    ckpt = load_training_checkpoint(checkpoint)
    state = ckpt.get('state_dict', ckpt)
    weights = network_state_dict(state, network)
    meta = dataset_meta_of(cfg, ckpt)
    deploy = deploy_config(cfg, meta)
    # fail here, not in the user's code, if the weights do not fit
    build_network(deploy, weights, meta)
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, 'config.py')
    ckpt_path = osp.join(out_dir, 'model.pth')
    write_config(deploy, cfg_path, header=(
        f'Exported by tools/export_model.py: the {network} of\n'
        f'{osp.abspath(config)}\n{osp.abspath(checkpoint)}'))
    torch.save(
        dict(
            state_dict={k: v.detach().clone() for k, v in weights.items()},
            meta=dict(
                dataset_meta=meta,
                exported_from=dict(
                    config=osp.abspath(config),
                    checkpoint=osp.abspath(checkpoint),
                    network=network))), ckpt_path)
    return dict(config=cfg_path, checkpoint=ckpt_path)
