# The small model of the embedded synthetic benchmark: the same DeepLabv2
# dual-head layout as the paper model on a narrow ResNet-18 V1c (base width
# 32, output stride 8), trained from scratch (no weights can be downloaded).
_base_ = ['./deeplabv2_r101_dual.py']
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=(128, 256))  # (h, w) of the synthetic crops
segmentor = dict(
    backbone=dict(
        depth=18,
        stem_channels=32,
        base_channels=32,
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(in_channels=(128, 256), norm_cfg=norm_cfg))
