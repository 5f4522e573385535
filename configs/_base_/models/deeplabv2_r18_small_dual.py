# The small model of the embedded synthetic benchmark: the same DeepLabv2
# dual-head layout as the paper model on a narrow ResNet-18 V1c (base width
# 16, output stride 8), trained from scratch (no weights can be downloaded).
# Width 16 keeps a 500-iteration run near a minute on one CPU core, so that
# every method can be trained with 3 seeds on both synthetic benchmarks.
_base_ = ['./deeplabv2_r101_dual.py']
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=(128, 256))  # (h, w) of the synthetic crops
segmentor = dict(
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(in_channels=(64, 128), norm_cfg=norm_cfg))
