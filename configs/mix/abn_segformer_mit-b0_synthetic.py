# Any mmseg model as a UDA student: SegFormer MiT-B0, mmseg's own
# segformer_mit-b0 model config unchanged (19 classes; that file has no
# pretrained init - mmseg's training configs add one - so nothing is
# downloaded; SyncBN becomes BN on a CPU machine in tools/train.py), trained
# with SAC's stage 1 (ABN: source cross-entropy, target images through the
# BatchNorm layers without loss) on the synthetic benchmark.
#
# The stock config defines `model`: UDASegmentor takes it whole as its
# `segmentor` and replaces its SegDataPreProcessor by the UDA one (source +
# target parts). Method bases (_base_/uda/) also define `model`, and MMEngine
# allows a key in only one base, so the method's parts are written here.
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
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
    update_target_bn_stats=True)
