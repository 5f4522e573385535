# DeepLabv2 ResNet-101 (output stride 8) with ONE ASPP classifier on layer4
# (2048 ch): the sum of four dilated 3x3 convs (6/12/18/24) straight to
# logits, no auxiliary head, no dropout. This is the ResNet-101 model of SAC
# (Araslanov & Roth, CVPR 2021). MRNet / AdaptSegNet use the two-classifier
# variant, deeplabv2_r101_dual.py.
# The backbone is the papers' DeepLabv2 ResNet-101 of deeplabv2_r101_dual.py
# (7x7 stem, caffe-style stride, dilation 2 / 4 in every block of layer3 /
# layer4), initialised like SAC's release from torchvision's ImageNet
# ResNet-101 (resnet101-5d3b4d8f.pth), converted offline:
#   python tools/convert_checkpoint.py torchvision-resnet101 \
#       resnet101-5d3b4d8f.pth pretrained/resnet101_torchvision.pth
# Alternative backbone (ResNetV1c): deeplabv2_r101_v1c.py. SyncBN: BatchNorm
# statistics are what SAC's ABN pre-training adapts (tools/train.py turns
# SyncBN into BN without CUDA).
_base_ = ['./deeplabv2_r101_dual.py']
# torchvision / OpenMMLab ImageNet weights: RGB, ImageNet mean and std.
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)
segmentor = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/resnet101_torchvision.pth')),
    decode_head=dict(
        _delete_=True,
        type='DeepLabV2Head',
        in_channels=2048,
        in_index=3,
        num_classes={{_base_.num_classes}},
        dropout_ratio=0.,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
