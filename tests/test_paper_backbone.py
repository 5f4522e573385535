"""The DeepLabv2 ResNet-101 of the paper configs is the papers' backbone.

DeepLabv2 (Chen et al., TPAMI 2018), AdaptSegNet / MRNet and SAC all use a
ResNet-101 with a single 7x7 stride-2 stem conv, the stride of a bottleneck
on its first 1x1 conv ("caffe" style), layer3 / layer4 at stride 1 with
dilation 2 / 4 in EVERY block (padding = dilation), output stride 8. The
spec below is written out by hand (not read from the code under test) and
checked module by module on the backbone built from the model bases; the
documented ResNetV1c alternative is checked to stay what it says it is.
"""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmseg_uda  # noqa: F401
from mmseg.registry import MODELS

init_default_scope('mmseg')
MODELS_DIR = Path(__file__).resolve().parents[1] / 'configs/_base_/models'

BLOCKS = (3, 4, 23, 3)  # ResNet-101
LAYER_STRIDE = (1, 2, 1, 1)
LAYER_DILATION = (1, 1, 2, 4)
WIDTH = (64, 128, 256, 512)
# Parameters of SAC's release DeepLabv2 ResNet-101 with its ASPP sum head
# (19 classes), counted on the release model (reference facts).
RELEASE_PARAMS = 43_901_068


def _build(base: str, **head):
    cfg = Config.fromfile(str(MODELS_DIR / f'{base}.py'))
    backbone = dict(cfg.segmentor.backbone)
    backbone.update(norm_cfg=dict(type='BN'), init_cfg=None)
    return cfg, MODELS.build(backbone)


def _convs(module):
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize('base', ['deeplabv2_r101_dual', 'deeplabv2_r101'])
def test_paper_backbone_matches_deeplabv2(base):
    _, net = _build(base)
    stem = net.conv1
    assert isinstance(stem, nn.Conv2d), 'one stem conv, not a deep stem'
    assert stem.kernel_size == (7, 7) and stem.stride == (2, 2)
    assert stem.padding == (3, 3) and stem.in_channels == 3
    assert stem.out_channels == 64
    assert not hasattr(net, 'stem')  # no deep stem
    for i, (n, s, d, w) in enumerate(
            zip(BLOCKS, LAYER_STRIDE, LAYER_DILATION, WIDTH)):
        layer = getattr(net, f'layer{i + 1}')
        assert len(layer) == n
        for b, block in enumerate(layer):
            first = b == 0
            c1, c2, c3 = block.conv1, block.conv2, block.conv3
            # caffe style: the stride sits on the 1x1 conv
            assert c1.kernel_size == (1, 1)
            assert c1.stride == ((s, s) if first else (1, 1)), (i, b)
            assert c2.kernel_size == (3, 3) and c2.stride == (1, 1)
            # every block of layer3 / layer4 dilated (no contraction)
            assert c2.dilation == (d, d), (i, b, c2.dilation)
            assert c2.padding == (d, d)
            assert c3.kernel_size == (1, 1) and c3.out_channels == 4 * w
            if first:
                ds = block.downsample[0]
                assert ds.kernel_size == (1, 1) and ds.stride == (s, s)
            else:
                assert block.downsample is None
    x = torch.zeros(1, 3, 64, 96)
    net.eval()
    with torch.no_grad():
        outs = net(x)
    assert [tuple(o.shape[1:]) for o in outs] == [
        (256, 16, 24), (512, 8, 12), (1024, 8, 12), (2048, 8, 12)]


def test_paper_model_parameter_count_matches_release():
    """Backbone + single ASPP head: the parameter count of SAC's release
    model (an independent check of every layer's shape)."""
    cfg, net = _build('deeplabv2_r101')
    head = dict(cfg.segmentor.decode_head)
    head.update(num_classes=19)
    head = MODELS.build(head)
    total = sum(p.numel() for p in net.parameters()) + sum(
        p.numel() for p in head.parameters())
    assert total == RELEASE_PARAMS


@pytest.mark.parametrize('base', ['deeplabv2_r101_v1c_dual',
                                  'deeplabv2_r101_v1c'])
def test_v1c_alternative_is_documented_variant(base):
    cfg, net = _build(base)
    assert cfg.segmentor.backbone.type == 'ResNetV1c'
    stem = _convs(net.stem)
    assert [c.kernel_size for c in stem] == [(3, 3)] * 3  # deep stem
    # contract_dilation: first block of layer3 / layer4 dilated 1 / 2
    assert net.layer3[0].conv2.dilation == (1, 1)
    assert net.layer3[1].conv2.dilation == (2, 2)
    assert net.layer4[0].conv2.dilation == (2, 2)
    assert net.layer4[1].conv2.dilation == (4, 4)
    # pytorch style: stride on the 3x3 conv
    assert net.layer2[0].conv1.stride == (1, 1)
    assert net.layer2[0].conv2.stride == (2, 2)


@pytest.mark.parametrize('base,caffe', [
    ('deeplabv2_r101_dual', True), ('deeplabv2_r101_dual_16cls', True),
    ('deeplabv2_r101_dual_class_balanced', True), ('deeplabv2_r101', False),
    ('deeplabv2_r101_v1c_dual', False), ('deeplabv2_r101_v1c', False)])
def test_input_normalisation_matches_init_weights(base, caffe):
    """The DeepLab (caffe) init of AdaptSegNet / MRNet expects BGR minus
    the caffe mean (104.0, 116.7, 122.7), no std; torchvision / OpenMMLab
    ImageNet weights expect RGB with ImageNet mean and std."""
    cfg = Config.fromfile(str(MODELS_DIR / f'{base}.py'))
    pre = cfg.data_preprocessor
    init = cfg.segmentor.backbone.init_cfg.checkpoint
    if caffe:
        assert init == 'pretrained/deeplab_resnet101_init.pth'
        assert pre.bgr_to_rgb is False and list(pre.std) == [1., 1., 1.]
        assert [round(m, 1) for m in pre.mean] == [104.0, 116.7, 122.7]
    else:
        assert 'deeplab' not in init
        assert pre.bgr_to_rgb is True
        assert list(pre.mean) == [123.675, 116.28, 103.53]
        assert list(pre.std) == [58.395, 57.12, 57.375]
