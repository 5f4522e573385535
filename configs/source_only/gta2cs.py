# Source-only baseline of MRNet (Zheng & Yang, IJCAI 2020, Table 4):
# DeepLabv2 ResNet-101 with the two ASPP classifiers, trained on GTA5 labels
# only (CE primary + 0.5 aux) with MRNet's schedule (SGD lr 2e-4, poly over
# 100k iterations, stopped at 25k, batch 2, 1024x512 crops), evaluated on
# Cityscapes val (fused prediction F_p + 0.5 F_a).
# Expected: 37.2 mIoU (paper, 19 classes).
_base_ = [
    '../_base_/datasets/gta2cs.py', '../_base_/models/deeplabv2_r101_dual.py',
    '../_base_/uda/source_only.py', '../_base_/schedules/poly_100k_stop25k.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
# No target images needed: train on the dataset base's source set
# (GTA5) alone.
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, **_base_.source_dataset))
