"""tools/convert_checkpoint.py on state dicts with the exact key names and
shapes of the public files (built here from the architectures as the
releases define them, not from this project's modules): every converted
tensor loads with ``strict=True`` into the model of the paper configs and
arrives unchanged; the MRNet release head is refused by name."""
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmseg_uda  # noqa: F401
from mmseg.registry import MODELS

init_default_scope('mmseg')
REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    'convert_checkpoint', REPO / 'tools' / 'convert_checkpoint.py')
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

_counter = [0]


def _t(*shape):
    """A tensor of the given shape with values unique to this call."""
    _counter[0] += 1
    g = torch.Generator().manual_seed(_counter[0])
    return torch.randn(*shape, generator=g)


def _bn(prefix, c, tracked):
    d = {f'{prefix}.weight': _t(c), f'{prefix}.bias': _t(c),
         f'{prefix}.running_mean': _t(c), f'{prefix}.running_var': _t(c)}
    if tracked:
        d[f'{prefix}.num_batches_tracked'] = torch.tensor(7)
    return d


def release_resnet101(prefix='', tracked=False):
    """DeepLab / torchvision ResNet-101 (Bottleneck x [3, 4, 23, 3], 7x7
    stem, downsample in the first block of every layer)."""
    d = {f'{prefix}conv1.weight': _t(64, 3, 7, 7)}
    d.update(_bn(f'{prefix}bn1', 64, tracked))
    inplanes = 64
    for i, (n, planes) in enumerate(zip((3, 4, 23, 3), (64, 128, 256, 512))):
        for b in range(n):
            p = f'{prefix}layer{i + 1}.{b}.'
            cin = inplanes if b == 0 else planes * 4
            d[p + 'conv1.weight'] = _t(planes, cin, 1, 1)
            d.update(_bn(p + 'bn1', planes, tracked))
            d[p + 'conv2.weight'] = _t(planes, planes, 3, 3)
            d.update(_bn(p + 'bn2', planes, tracked))
            d[p + 'conv3.weight'] = _t(planes * 4, planes, 1, 1)
            d.update(_bn(p + 'bn3', planes * 4, tracked))
            if b == 0:
                d[p + 'downsample.0.weight'] = _t(planes * 4, inplanes, 1, 1)
                d.update(_bn(p + 'downsample.1', planes * 4, tracked))
        inplanes = planes * 4
    return d


def aspp(prefix, cin, classes):
    """DeepLabv2 Classifier_Module: four 3x3 convs with bias."""
    d = {}
    for k in range(4):
        d[f'{prefix}conv2d_list.{k}.weight'] = _t(classes, cin, 3, 3)
        d[f'{prefix}conv2d_list.{k}.bias'] = _t(classes)
    return d


VGG = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
       512, 512, 512, 'M')


def torchvision_vgg16(bn=True):
    """torchvision vgg16(_bn): ``features`` indices of its Sequential;
    the classifier with its real shapes (expanded, no memory)."""
    d, idx, cin = {}, 0, 3
    for v in VGG:
        if v == 'M':
            idx += 1
            continue
        d[f'features.{idx}.weight'] = _t(v, cin, 3, 3)
        d[f'features.{idx}.bias'] = _t(v)
        idx += 1
        if bn:
            d.update(_bn(f'features.{idx}', v, False))
            idx += 1
        idx += 1  # ReLU
        cin = v
    for k, (o, i) in zip((0, 3, 6), ((4096, 25088), (4096, 4096),
                                     (1000, 4096))):
        d[f'classifier.{k}.weight'] = torch.zeros(1, 1).expand(o, i)
        d[f'classifier.{k}.bias'] = torch.zeros(o)
    return d


def sac_vgg16_snapshot(classes=19):
    """SAC's DeepLabV2_VGG16(use_bn=True) wrapped in SAC and DDP: vgg16_bn
    features without pool4 / pool5, then fc6, ReLU, fc7, ReLU."""
    tv = torchvision_vgg16(bn=True)
    feats = {}
    for k, v in tv.items():
        if not k.startswith('features.'):
            continue
        _, i, name = k.split('.', 2)
        i = int(i)
        i = i if i < 33 else i - 1  # pool4 (33) removed; pool5 was 43
        feats[f'features.{i}.{name}'] = v
    feats['features.42.weight'] = _t(1024, 512, 3, 3)
    feats['features.42.bias'] = _t(1024)
    feats['features.44.weight'] = _t(1024, 1024, 3, 3)
    feats['features.44.bias'] = _t(1024)
    feats.update(aspp('classifier.', 1024, classes))
    state = {f'module.backbone.{k}': v for k, v in feats.items()}
    state.update({f'module.slow_net.{k}': v for k, v in feats.items()})
    state['module.running_conf'] = _t(classes)
    state['module.slow_init'] = torch.tensor([1.])
    return dict(model=state, opt={}, epoch=184, score=0.498)


def _segmentor_cfg(config):
    cfg = Config.fromfile(str(REPO / 'configs' / config))
    seg = cfg.model.segmentor if 'model' in cfg else cfg.segmentor
    # a ConfigDict, as the runner passes it (EncoderDecoder reads test_cfg)
    return ConfigDict(_bn_only(seg.to_dict()))


def _bn_only(node):
    """SyncBN -> BN, no init from files."""
    if isinstance(node, dict):
        node = {k: _bn_only(v) for k, v in node.items()}
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        node.pop('init_cfg', None)
        return node
    if isinstance(node, list):
        return [_bn_only(v) for v in node]
    return node


def _build(config, part=None):
    seg = _segmentor_cfg(config)
    return MODELS.build(seg[part] if part else seg)


def _assert_same(src, dst_state, mapping):
    for k, v in src.items():
        new = mapping(k)
        if new is None:
            continue
        assert torch.equal(dst_state[new], v), (k, new)


def test_deeplab_init_loads_into_paper_backbone(tmp_path):
    src = release_resnet101(prefix='Scale.')
    src.update(aspp('Scale.layer5.', 2048, 21))  # VOC classifier, dropped
    state = tool.convert('deeplab-resnet101', src)
    backbone = _build('_base_/models/deeplabv2_r101_dual.py', 'backbone')
    backbone.load_state_dict(state, strict=True)
    _assert_same(src, backbone.state_dict(),
                 lambda k: None if 'layer5' in k else k[len('Scale.'):])
    # the offline init path of the configs: init_cfg Pretrained on a file
    path = tmp_path / 'init.pth'
    torch.save(dict(state_dict=state), path)
    cfg = _segmentor_cfg('_base_/models/deeplabv2_r101_dual.py').backbone
    cfg.init_cfg = dict(type='Pretrained', checkpoint=str(path))
    fresh = MODELS.build(cfg)
    fresh.init_weights()
    _assert_same(src, fresh.state_dict(),
                 lambda k: None if 'layer5' in k else k[len('Scale.'):])


def test_torchvision_resnet101_loads_into_sac_backbone():
    src = release_resnet101()
    src['fc.weight'], src['fc.bias'] = _t(1000, 2048), _t(1000)
    state = tool.convert('torchvision-resnet101', src)
    backbone = _build('_base_/models/deeplabv2_r101.py', 'backbone')
    backbone.load_state_dict(state, strict=True)
    _assert_same(src, backbone.state_dict(),
                 lambda k: None if k.startswith('fc.') else k)
    with pytest.raises(tool.ConversionError, match='deeplab-resnet101'):
        tool.convert('torchvision-resnet101',
                     release_resnet101(prefix='Scale.'))


@pytest.mark.parametrize('bn', [True, False])
def test_torchvision_vgg16_loads_into_vgg16_deeplabv2(bn):
    src = torchvision_vgg16(bn=bn)
    state = tool.convert('torchvision-vgg16', src)
    cfg = _segmentor_cfg('_base_/models/deeplabv2_vgg16.py').backbone
    if not bn:
        cfg.norm_cfg = None
    backbone = MODELS.build(cfg)
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    # only the new fc6 / fc7 layers are not in an ImageNet VGG-16
    assert not unexpected
    assert sorted(missing) == ['fc6.0.bias', 'fc6.0.weight', 'fc7.0.bias',
                               'fc7.0.weight']
    _assert_same(src, backbone.state_dict(),
                 lambda k: k if k.startswith('features.') else None)


def test_sac_resnet101_snapshot_to_full_checkpoint(tmp_path):
    student = release_resnet101(prefix='backbone.model.')
    student.update(aspp('backbone.model.layer5.', 2048, 19))
    state = {f'module.{k}': v for k, v in student.items()}
    state.update({f'module.slow_net.model.{k[len("backbone.model."):]}': v
                  for k, v in student.items()})
    state['module.running_conf'] = _t(19)
    state['module.slow_init'] = torch.tensor([1.])
    src = dict(model=state, opt={}, epoch=136, score=0.538)
    path, out = tmp_path / 'final_e136.pth', tmp_path / 'converted.pth'
    torch.save(src, path)
    assert tool.main(['sac-resnet101', str(path), str(out)]) == 0

    seg = _build('sac/gta2cs_r101.py')
    # the file as tools/test.py reads it (mmengine load_checkpoint)
    load_checkpoint(seg, str(out), strict=True,
                    revise_keys=[(r'^segmentor\.', '')])

    def mapping(k):
        k = k[len('backbone.model.'):]
        if k.startswith('layer5.conv2d_list.'):
            return 'decode_head.conv_seg.convs.' + k[len(
                'layer5.conv2d_list.'):]
        return 'backbone.' + k

    _assert_same(student, seg.state_dict(), mapping)


def test_sac_vgg16_snapshot_to_full_checkpoint():
    src = sac_vgg16_snapshot()
    state = tool.convert('sac-vgg16', src)
    assert all(k.startswith('segmentor.') for k in state)
    seg = _build('sac/gta2cs_vgg16.py')
    seg.load_state_dict({k[len('segmentor.'):]: v
                         for k, v in state.items()}, strict=True)
    # independent index map: torchvision vgg16_bn index of each SAC layer
    tv_index = {i: i if i < 33 else i + 1 for i in range(42)}

    def mapping(k):
        if not k.startswith('module.backbone.'):
            return None
        k = k[len('module.backbone.'):]
        if k.startswith('classifier.conv2d_list.'):
            return 'decode_head.conv_seg.convs.' + k[len(
                'classifier.conv2d_list.'):]
        _, i, name = k.split('.', 2)
        i = int(i)
        if i in (42, 44):
            return f'backbone.fc{6 if i == 42 else 7}.0.{name}'
        return f'backbone.features.{tv_index[i]}.{name}'

    _assert_same(src['model'], seg.state_dict(), mapping)


def test_mrnet_release_head_is_refused(tmp_path):
    body = {f'module.{k}': v for k, v in release_resnet101(
        tracked=True).items() if k.startswith(('conv1', 'bn1'))}
    body['module.layer5.conv2d_list.0.0.weight'] = _t(256, 1024, 1, 1)
    body['module.layer5.bottleneck.0.se.0.weight'] = _t(80, 1280)
    body['module.layer6.conv2d_list.0.0.weight'] = _t(256, 3072, 1, 1)
    for layout in ('mrnet-release', 'deeplab-resnet101',
                   'torchvision-resnet101', 'sac-resnet101'):
        with pytest.raises(tool.ConversionError,
                           match='MRNet release.*squeeze-excitation'):
            tool.convert(layout, body)
    path = tmp_path / 'GTA5_25000.pth'
    torch.save(body, path)
    assert tool.main(['mrnet-release', str(path),
                      str(tmp_path / 'out.pth')]) == 1
    assert not (tmp_path / 'out.pth').exists()


def test_sac_synthia_19_class_model_to_16_class_config(tmp_path):
    """SAC's SYNTHIA models keep 19 outputs; --drop-classes 9 14 16
    (terrain, truck, train) gives the 16-class config's classifier, rows in
    Cityscapes order."""
    src = sac_vgg16_snapshot(classes=19)
    path, out = tmp_path / 'final_e164.pth', tmp_path / 'converted.pth'
    torch.save(src, path)
    assert tool.main(['sac-vgg16', str(path), str(out),
                      '--drop-classes', '9', '14', '16']) == 0
    seg = _build('sac/synthia2cs_vgg16.py')
    load_checkpoint(seg, str(out), strict=True,
                    revise_keys=[(r'^segmentor\.', '')])
    kept = [c for c in range(19) if c not in (9, 14, 16)]
    assert len(kept) == 16
    for k in range(4):
        for name in ('weight', 'bias'):
            old = src['model'][f'module.backbone.classifier.conv2d_list.'
                               f'{k}.{name}']
            new = seg.state_dict()[f'decode_head.conv_seg.convs.{k}.{name}']
            assert torch.equal(new, old[kept])
    with pytest.raises(tool.ConversionError, match='19 classes'):
        tool.drop_classes(tool.convert('sac-vgg16', src), [19])
