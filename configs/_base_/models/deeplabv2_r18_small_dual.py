# The small model of the embedded synthetic benchmark: the DeepLabv2
# dual-head layout of the paper model on a narrow ResNet-18 (base width 16,
# output stride 8), trained from scratch (no weights can be downloaded).
# The backbone is the papers' DeepLabv2 ResNet, not mmseg's V1c: a 7x7 stem
# (no deep stem) and every block of layer3 / layer4 dilated 2 / 4 (no
# contracted dilation in the first block), as in both authors' releases.
# Width 16 keeps every method of the benchmark affordable on a 2-core CPU.
_base_ = ['./deeplabv2_r101_dual.py']
norm_cfg = dict(type='BN', requires_grad=True)
# Trained from scratch, so the input is standardised with the ImageNet mean
# and std (RGB) rather than the caffe mean of the R101 base's DeepLab init.
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(96, 192))  # (h, w) of the synthetic crops
segmentor = dict(
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        deep_stem=False,
        contract_dilation=False,
        style='pytorch',  # no effect on BasicBlocks (kept as benchmarked)
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(in_channels=(64, 128), norm_cfg=norm_cfg))
