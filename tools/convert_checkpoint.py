"""Convert the papers' public weights into this project's key layout.

Like mmseg's ``tools/model_converters/*2mmseg.py``: read a checkpoint of
another code base, rename its keys, save an mmengine checkpoint
(``dict(state_dict=..., meta=...)``). Everything runs offline on local
files.

Usage::

    python tools/convert_checkpoint.py LAYOUT SRC DST [--prefix PREFIX]
        [--drop-classes C [C ...]]

Layouts (``--list`` prints them):

Initialisation weights -> backbone keys (for ``init_cfg=dict(
type='Pretrained', checkpoint=DST)`` of the backbone; ``--prefix
segmentor.backbone.`` gives keys for ``load_from`` of a UDASegmentor):

- ``deeplab-resnet101``: the DeepLab ResNet-101 init of AdaptSegNet / MRNet
  (``DeepLab_resnet_pretrained_init-f81d91e8.pth``, keys ``Scale.conv1.*``,
  ``Scale.layer1.0.conv1.*``, ...; its ``Scale.layer5`` classifier is
  dropped) -> the papers' DeepLabv2 ResNet-101 (mmseg ``ResNet``,
  style='caffe', configs/_base_/models/deeplabv2_r101_dual.py).
- ``torchvision-resnet101``: torchvision's ImageNet ResNet-101
  (``resnet101-5d3b4d8f.pth``, SAC's init; ``fc`` dropped) -> the same
  backbone (same key names).
- ``torchvision-vgg16``: torchvision's ``vgg16`` or ``vgg16_bn``
  (``vgg16_bn-6c64b313.pth``, SAC's init; ``classifier`` dropped) ->
  ``VGG16DeepLabV2`` (which keeps torchvision's layer indices; fc6 / fc7
  are new layers).

Trained models -> full project checkpoints (``segmentor.*`` keys of a
UDASegmentor, for ``tools/test.py CONFIG DST`` or ``load_from``):

- ``sac-resnet101``: a snapshot of SAC's release (visinf/da-sac,
  ``DeepLabV2_ResNet101``; final ``final_e136.pth`` or ABN
  ``baseline_abn_e040.pth``; keys ``module.backbone.model.*``, classifier
  ``layer5.conv2d_list.{0..3}``) -> configs/sac/*_r101.py.
- ``sac-vgg16``: a snapshot of SAC's ``DeepLabV2_VGG16`` with BN (keys
  ``module.backbone.features.*`` without pool4 / pool5, fc6 / fc7 at
  ``features.42`` / ``features.44``, ``classifier.conv2d_list.*``) ->
  configs/sac/*_vgg16.py.

BatchNorm counters (``num_batches_tracked``) missing from old files are
filled in by PyTorch when the state dict is loaded.
SAC's SYNTHIA models predict 19 classes (terrain, truck and train are only
left out of the mean IoU); ``--drop-classes 9 14 16`` keeps the 16 of the
SYNTHIA configs (the argmax then runs over 16 classes, not 19).
The momentum network (``slow_net``) and the class prior of a SAC snapshot
are not converted (evaluation uses the student). The MRNet release's
trained models use a classifier this project does not implement (five
256-channel ASPP branches concatenated, GroupNorm, squeeze-excitation,
``layer5`` / ``layer6``); converting one stops with an error naming it.
"""
import argparse
import os.path as osp
import re
import sys
from typing import Callable, Dict, Iterable

import torch

StateDict = Dict[str, torch.Tensor]

MRNET_HEAD_ERROR = (
    'this is a checkpoint of the MRNet release (layumi/Seg-Uncertainty '
    'DeeplabMulti): its classifiers layer5 / layer6 are ASPP branches of 256 '
    'channels, concatenated, with GroupNorm and squeeze-excitation (SEBlock), '
    'which this project does not implement (its DualDeepLabV2Head is the '
    "papers' sum of four dilated convs); only its backbone could be used")


class ConversionError(ValueError):
    """The source checkpoint does not have the expected layout."""


def _check_not_mrnet_release(keys: Iterable[str], src: str) -> None:
    for k in keys:
        if re.search(r'(^|\.)layer6\.|\.bottleneck\.|\.se\.\d', k):
            raise ConversionError(f'{src}: {MRNET_HEAD_ERROR} (key {k!r})')


def _strip(state: StateDict, prefix: str) -> StateDict:
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def _unwrap(obj, src: str) -> StateDict:
    """The tensor dict of a checkpoint: ``model`` (SAC release),
    ``state_dict`` (mmengine) or the checkpoint itself."""
    for key in ('model', 'state_dict'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f'{src}: no state dict found')
    return {k: v for k, v in obj.items() if torch.is_tensor(v)}


def _require(keys, pattern: str, src: str, layout: str, hint: str) -> None:
    if not any(re.match(pattern, k) for k in keys):
        raise ConversionError(
            f'{src}: not a {layout} checkpoint (no key matching '
            f'{pattern!r}; first keys: {sorted(keys)[:4]}). {hint}')


def _reject_unknown(keys, allowed: str, src: str, layout: str) -> None:
    bad = [k for k in keys if not re.match(allowed, k)]
    if bad:
        raise ConversionError(f'{src}: unexpected keys for {layout}: '
                              f'{bad[:5]}{" ..." if len(bad) > 5 else ""}')


_RESNET_KEYS = r'(conv1|bn1|layer[1-4])\.'


def convert_deeplab_resnet101(state: StateDict, src: str) -> StateDict:
    """AdaptSegNet / MRNet DeepLab init: ``Scale.X`` -> ``X``; the VOC
    classifier ``Scale.layer5`` is dropped."""
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    _check_not_mrnet_release(state, src)
    _require(state, r'Scale\.conv1\.', src, 'DeepLab ResNet-101 init',
             'A torchvision file needs the layout torchvision-resnet101.')
    body = {k: v for k, v in _strip(state, 'Scale.').items()
            if not k.startswith('layer5.')}
    _reject_unknown(body, _RESNET_KEYS, src, 'deeplab-resnet101')
    _reject_unknown(state, r'Scale\.', src, 'deeplab-resnet101')
    return body


def convert_torchvision_resnet101(state: StateDict, src: str) -> StateDict:
    """torchvision ResNet-101: same names as mmseg's ResNet; ``fc`` is
    dropped."""
    _check_not_mrnet_release(state, src)
    _require(state, r'layer1\.0\.conv1\.weight', src, 'torchvision ResNet',
             'A DeepLab init (Scale.*) needs the layout deeplab-resnet101.')
    body = {k: v for k, v in state.items() if not k.startswith('fc.')}
    _reject_unknown(body, _RESNET_KEYS, src, 'torchvision-resnet101')
    return body


def convert_torchvision_vgg16(state: StateDict, src: str) -> StateDict:
    """torchvision VGG-16 (with or without BN): ``features.*`` kept (the
    indices of VGG16DeepLabV2 are torchvision's), ``classifier`` dropped."""
    _require(state, r'features\.0\.weight', src, 'torchvision VGG-16', '')
    _reject_unknown(state, r'(features|classifier)\.', src,
                    'torchvision-vgg16')
    return {k: v for k, v in state.items() if k.startswith('features.')}


def _sac_student(state: StateDict, src: str, inner: str) -> StateDict:
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    _check_not_mrnet_release(state, src)
    _require(state, re.escape(inner), src, 'SAC release',
             f"Expected keys '[module.]{inner}*' (DDP-wrapped SAC model).")
    _reject_unknown(
        state, r'(backbone|slow_net)\.|running_conf$|slow_init$', src,
        'a SAC release snapshot')
    return _strip(state, inner)


def convert_sac_resnet101(state: StateDict, src: str) -> StateDict:
    """SAC ``DeepLabV2_ResNet101``: ``backbone.model.layer5.conv2d_list.k``
    -> ``decode_head.conv_seg.convs.k``, the rest -> ``backbone.*``."""
    student = _sac_student(state, src, 'backbone.model.')
    out = {}
    for k, v in student.items():
        m = re.match(r'layer5\.conv2d_list\.(\d+)\.(weight|bias)$', k)
        if m:
            out[f'decode_head.conv_seg.convs.{m[1]}.{m[2]}'] = v
        elif re.match(_RESNET_KEYS, k):
            out['backbone.' + k] = v
        else:
            raise ConversionError(f'{src}: unexpected SAC ResNet key {k!r}')
    return out


# SAC's DeepLabV2_VGG16 (vgg16_bn) drops pool4 / pool5 (torchvision indices
# 33 and 43) from ``features`` and appends fc6, ReLU, fc7, ReLU, so its
# indices 33..41 are torchvision's 34..42 and 42 / 44 are fc6 / fc7.
_SAC_VGG_FC = {42: 'fc6.0', 44: 'fc7.0'}


def _sac_vgg_feature(index: int) -> str:
    if index in _SAC_VGG_FC:
        return _SAC_VGG_FC[index]
    if index <= 32:
        return f'features.{index}'
    if index <= 41:
        return f'features.{index + 1}'
    raise ConversionError(f'unexpected SAC VGG-16 layer index {index}')


def convert_sac_vgg16(state: StateDict, src: str) -> StateDict:
    """SAC ``DeepLabV2_VGG16`` (BN): features re-indexed to torchvision's
    (see ``_sac_vgg_feature``), ``classifier.conv2d_list.k`` ->
    ``decode_head.conv_seg.convs.k``."""
    student = _sac_student(state, src, 'backbone.')
    out = {}
    for k, v in student.items():
        m = re.match(r'features\.(\d+)\.(.+)$', k)
        c = re.match(r'classifier\.conv2d_list\.(\d+)\.(weight|bias)$', k)
        if m:
            out[f'backbone.{_sac_vgg_feature(int(m[1]))}.{m[2]}'] = v
        elif c:
            out[f'decode_head.conv_seg.convs.{c[1]}.{c[2]}'] = v
        else:
            raise ConversionError(f'{src}: unexpected SAC VGG key {k!r}')
    return out


def convert_mrnet_release(state: StateDict, src: str) -> StateDict:
    """Always an error: the MRNet release's head is not implemented."""
    raise ConversionError(f'{src}: {MRNET_HEAD_ERROR}')


# layout name -> (converter, output prefix, description)
LAYOUTS: Dict[str, tuple] = {
    'deeplab-resnet101': (convert_deeplab_resnet101, '',
                          'AdaptSegNet/MRNet DeepLab init -> backbone'),
    'torchvision-resnet101': (convert_torchvision_resnet101, '',
                              'torchvision ResNet-101 -> backbone'),
    'torchvision-vgg16': (convert_torchvision_vgg16, '',
                          'torchvision vgg16(_bn) -> VGG16DeepLabV2'),
    'sac-resnet101': (convert_sac_resnet101, 'segmentor.',
                      'SAC release DeepLabv2 ResNet-101 -> UDASegmentor'),
    'sac-vgg16': (convert_sac_vgg16, 'segmentor.',
                  'SAC release DeepLabv2 VGG-16 (BN) -> UDASegmentor'),
    'mrnet-release': (convert_mrnet_release, '',
                      'MRNet release model (not supported: GN+SE head)'),
}


def drop_classes(state: StateDict, classes) -> StateDict:
    """Remove the output rows of ``classes`` from every classifier conv
    (``decode_head.conv_seg.convs.*``), e.g. terrain, truck and train (9,
    14, 16) of SAC's 19-class SYNTHIA models for the 16-class configs."""
    out = dict(state)
    for k, v in state.items():
        if re.search(r'decode_head\.conv_seg\.convs\.\d+\.(weight|bias)$', k):
            bad = [c for c in classes if not 0 <= c < v.shape[0]]
            if bad:
                raise ConversionError(f'--drop-classes {bad}: the classifier '
                                      f'has {v.shape[0]} classes')
            keep = [c for c in range(v.shape[0]) if c not in set(classes)]
            out[k] = v[keep].clone()
    return out


def convert(layout: str, checkpoint, src: str = 'checkpoint',
            prefix: str = None) -> StateDict:
    """Convert a loaded checkpoint.

    Args:
        layout (str): One of :data:`LAYOUTS`.
        checkpoint: The loaded file (a state dict, or a dict holding one
            under ``model`` / ``state_dict``).
        src (str): Name of the source, for error messages.
        prefix (str, optional): Prepended to every key; defaults to the
            layout's (``segmentor.`` for trained models, none for inits).

    Returns:
        dict: The converted state dict (the tensors are not copied).
    """
    if layout not in LAYOUTS:
        raise ConversionError(f'unknown layout {layout!r}; one of '
                              f'{sorted(LAYOUTS)}')
    func, default_prefix, _ = LAYOUTS[layout]
    prefix = default_prefix if prefix is None else prefix
    state = func(_unwrap(checkpoint, src), src)
    return {prefix + k: v for k, v in state.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert public DeepLabv2 / SAC weights to this '
        "project's keys")
    parser.add_argument('layout', nargs='?', help='source layout')
    parser.add_argument('src', nargs='?', help='source checkpoint')
    parser.add_argument('dst', nargs='?', help='output checkpoint')
    parser.add_argument(
        '--prefix', default=None,
        help='prefix of every output key (default: none for init weights, '
        "'segmentor.' for trained models)")
    parser.add_argument(
        '--drop-classes', type=int, nargs='+', default=None,
        help='classifier outputs to remove from a trained model, e.g. '
        '9 14 16 for a 19-class SAC SYNTHIA model and the 16-class configs')
    parser.add_argument('--list', action='store_true', help='list layouts')
    args = parser.parse_args(argv)
    if not args.list and not (args.layout and args.src and args.dst):
        parser.error('LAYOUT SRC DST are required (or --list)')
    return args


def main(argv=None, load: Callable = torch.load) -> int:
    args = parse_args(argv)
    if args.list:
        for name, (_, _, desc) in LAYOUTS.items():
            print(f'{name:24s} {desc}')
        return 0
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'{args.src}: no such checkpoint file')
    # tensors and plain containers only: no code runs from the file
    checkpoint = load(args.src, map_location='cpu', weights_only=True)
    try:
        state = convert(args.layout, checkpoint, args.src, args.prefix)
        if args.drop_classes:
            state = drop_classes(state, args.drop_classes)
    except ConversionError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    torch.save(
        dict(state_dict=state,
             meta=dict(converted_from=osp.basename(args.src),
                       layout=args.layout)), args.dst)
    print(f'{args.dst}: {len(state)} tensors ({args.layout})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
