# deeplabv2_r101_dual.py with mmseg's ResNetV1c-101 backbone instead of the
# papers' DeepLabv2 ResNet-101: deep stem (three 3x3 convs), stride on the
# 3x3 conv (pytorch style), and contract_dilation=True (the first block of
# layer3 / layer4 dilated 1 / 2, the others 2 / 4); OpenMMLab's ImageNet
# weights (downloaded by mmengine, no conversion). A documented alternative,
# not the published architecture. To use it, replace the model base of a
# final config, e.g. in configs/mrnet/gta2cs.py
#   '../_base_/models/deeplabv2_r101_dual.py'
#   -> '../_base_/models/deeplabv2_r101_v1c_dual.py'
_base_ = ['./deeplabv2_r101_dual.py']
# torchvision / OpenMMLab ImageNet weights: RGB, ImageNet mean and std.
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)
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
