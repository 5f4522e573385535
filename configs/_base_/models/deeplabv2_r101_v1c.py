# deeplabv2_r101.py (SAC's single-classifier DeepLabv2) with mmseg's
# ResNetV1c-101 backbone of deeplabv2_r101_v1c_dual.py (deep stem, stride on
# the 3x3 conv, first block of layer3 / layer4 dilated 1 / 2, OpenMMLab
# ImageNet weights): a documented alternative to the papers' DeepLabv2
# ResNet-101. Use it by replacing '../_base_/models/deeplabv2_r101.py' in a
# final config (the ABN and adaptation configs of one run must agree).
_base_ = ['./deeplabv2_r101.py']
segmentor = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg={{_base_.norm_cfg}},
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')))
