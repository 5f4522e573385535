# DeepLabv2 ResNet-101 (output stride 8) with ONE ASPP classifier on layer4
# (2048 ch): the sum of four dilated 3x3 convs (6/12/18/24) straight to
# logits, no auxiliary head, no dropout. This is the ResNet-101 model of SAC
# (Araslanov & Roth, CVPR 2021). MRNet / AdaptSegNet use the two-classifier
# variant, deeplabv2_r101_dual.py.
# The backbone is mmseg's ResNetV1c (deep stem) with ImageNet weights, as in
# deeplabv2_r101_dual.py. SyncBN: BatchNorm statistics are what SAC's ABN
# pre-training adapts (tools/train.py turns SyncBN into BN without CUDA).
_base_ = ['./deeplabv2_r101_dual.py']
segmentor = dict(
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
