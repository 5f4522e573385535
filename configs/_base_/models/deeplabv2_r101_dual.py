# DeepLabv2 ResNet-101 at output stride 8 with MRNet's two ASPP classifiers:
# auxiliary on layer3 (1024 ch), primary on layer4 (2048 ch).
# Backbone: the paper's DeepLabv2 ResNet-101 (mmseg `ResNet`, style='caffe',
# 7x7 stem, dilation 2 / 4 in every block of layer3 / layer4). One detail
# differs from the releases and is not reproduced: their stem max-pool uses
# ceil_mode=True (129x257 instead of 128x256 features for a 1024x512 input);
# weights are the same. Alternative: mmseg's ResNetV1c (deep stem, first
# block of layer3 / layer4 dilated 1 / 2, open-mmlab ImageNet weights), in
# deeplabv2_r101_v1c_dual.py / deeplabv2_r101_v1c.py.
# Model bases define the student `segmentor` and the `data_preprocessor`;
# method bases (_base_/uda/) define `model` (a UDASegmentor), and a final
# config joins them with
#   model = dict(segmentor={{_base_.segmentor}},
#                data_preprocessor={{_base_.data_preprocessor}})
norm_cfg = dict(type='SyncBN', requires_grad=True)
# Input normalisation of the DeepLab (caffe) init of AdaptSegNet / MRNet:
# BGR images minus the caffe mean, no std scaling (their IMG_MEAN).
data_preprocessor = dict(
    type='UDADataPreProcessor',
    mean=[104.00698793, 116.66876762, 122.67891434],
    std=[1., 1., 1.],
    bgr_to_rgb=False,
    size=(512, 1024),  # (h, w): batches are padded to the crop size
    pad_val=0,
    seg_pad_val=255)
num_classes = 19
segmentor = dict(
    type='EncoderDecoder',
    backbone=dict(
        # DeepLabv2 ResNet-101 as in the papers and both releases: 7x7 stem,
        # stride on the first 1x1 conv of a bottleneck (caffe style), layer3
        # / layer4 at stride 1 with dilation 2 / 4 in EVERY block.
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='caffe',
        deep_stem=False,
        contract_dilation=False,
        # ImageNet DeepLab init of AdaptSegNet / MRNet, converted offline:
        #   python tools/convert_checkpoint.py deeplab-resnet101 \
        #       DeepLab_resnet_pretrained_init-f81d91e8.pth \
        #       pretrained/deeplab_resnet101_init.pth
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/deeplab_resnet101_init.pth')),
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
