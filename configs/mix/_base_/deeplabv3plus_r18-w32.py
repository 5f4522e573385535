# MMSegmentation's own DeepLabV3+ config (ResNetV1c-50-D8, DepthwiseSeparable
# ASPP head, FCN auxiliary head on layer3) narrowed, the way mmseg's
# deeplabv3plus_r18-d8 configs do it, to the width of the synthetic
# benchmark's model: ResNetV1c-18 with base width 32 (stage channels 32, 64,
# 128, 256), output stride 8, trained from scratch (no ImageNet download).
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels=32, base_channels=32),
    decode_head=dict(
        in_channels=256, channels=64, c1_in_channels=32, c1_channels=12),
    auxiliary_head=dict(in_channels=128, channels=32))
