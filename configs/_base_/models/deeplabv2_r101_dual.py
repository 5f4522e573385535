# DeepLabv2 ResNet-101 at output stride 8 with MRNet's two ASPP classifiers:
# auxiliary on layer3 (1024 ch), primary on layer4 (2048 ch).
# Model bases define the student `segmentor` and the `data_preprocessor`;
# method bases (_base_/uda/) define `model` (a UDASegmentor), and a final
# config joins them with
#   model = dict(segmentor={{_base_.segmentor}},
#                data_preprocessor={{_base_.data_preprocessor}})
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='UDADataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=(512, 1024),  # (h, w): batches are padded to the crop size
    pad_val=0,
    seg_pad_val=255)
num_classes = 19
segmentor = dict(
    type='EncoderDecoder',
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),
    decode_head=dict(
        type='DualDeepLabV2Head',
        in_channels=(1024, 2048),
        in_index=(2, 3),
        channels=256,
        num_classes=num_classes,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
