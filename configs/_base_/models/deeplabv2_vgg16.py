# DeepLabv2 VGG-16 (output stride 8) with one ASPP classifier on fc7
# (1024 ch): the VGG-16 model of SAC (Araslanov & Roth, CVPR 2021).
# pool4/pool5 removed, conv5 dilated by 2, fc6/fc7 as 3x3 convs with 1024
# channels and dilation 4, then the ASPP-L sum head (dilations 6/12/18/24).
# VGG-16 with BatchNorm as in the authors' release (the original DeepLabv2
# VGG-16 has none, norm_cfg=None; SAC's ABN pre-training needs BN layers),
# initialised from torchvision's ImageNet vgg16_bn (vgg16_bn-6c64b313.pth,
# as SAC's release), converted offline (drops the classifier):
#   python tools/convert_checkpoint.py torchvision-vgg16 \
#       vgg16_bn-6c64b313.pth pretrained/vgg16_bn_torchvision.pth
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
        type='VGG16DeepLabV2',
        out_indices=(5, ),
        fc_channels=1024,
        fc_dilation=4,
        conv5_dilation=2,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='pretrained/vgg16_bn_torchvision.pth')),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=1024,
        in_index=0,
        num_classes=num_classes,
        dropout_ratio=0.,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
