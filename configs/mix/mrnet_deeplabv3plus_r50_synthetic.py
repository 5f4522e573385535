# MRNet stage I (configs/synthetic/mrnet.py) with a stock MMSegmentation
# model as the student: DeepLabV3+ (mmseg's deeplabv3plus_r50-d8 model config,
# narrowed to ResNetV1c-18 width 32 in ./_base_/deeplabv3plus_r18-w32.py to
# run on a CPU). Its `auxiliary_head` (FCN on layer3) is the second
# classifier: it gets the auxiliary discriminator and the memory
# regularisation against the DepthwiseSeparableASPP `decode_head`.
#
# The stock config defines `model`; UDASegmentor takes it whole as its
# `segmentor` (its SegDataPreProcessor is replaced by the UDA one). The
# method parts are those of configs/_base_/uda/mrnet.py, written out: a
# method base also defines `model`, and MMEngine allows a key in only one
# base (tests/test_mix_configs.py keeps the two equal).
_base_ = [
    './_base_/deeplabv3plus_r18-w32.py',
    '../_base_/datasets/synthetic_gta2cs.py',
    '../_base_/schedules/synthetic.py', '../_base_/default_runtime.py'
]
model = dict(
    _delete_=True,
    type='UDASegmentor',
    segmentor={{_base_.model}},
    data_preprocessor=dict(
        type='UDADataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(96, 192),
        pad_val=0,
        seg_pad_val=255),
    adversary=dict(
        type='OutputSpaceAdversary',
        discriminators=dict(
            primary=dict(type='FCDiscriminator', ndf=32),
            aux=dict(type='FCDiscriminator', ndf=32)),
        loss_weights=dict(primary=0.001, aux=0.0002),
        gan_loss=dict(type='GANLoss', gan_type='vanilla'),
        disc_loss_weight=0.5),
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1),
    memory_reg_start_iter=320,  # 40% of its 800 iterations (from scratch)
    memory_reg_on='target')
