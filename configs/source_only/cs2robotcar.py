# Source-only baseline of MRNet (Zheng & Yang, IJCAI 2020, Table 6):
# DeepLabv2 ResNet-101 with the two ASPP classifiers (9 RobotCar classes),
# trained on Cityscapes train (labels mapped to the RobotCar classes) with
# MRNet's schedule (SGD lr 2e-4, poly over 100k iterations, stopped at 25k,
# batch 2, 1024x512 crops), evaluated on RobotCar val.
# Expected: 61.9 mIoU (paper, 9 classes).
_base_ = [
    '../_base_/datasets/cs2robotcar.py',
    '../_base_/models/deeplabv2_r101_dual_9cls.py',
    '../_base_/uda/source_only.py', '../_base_/schedules/poly_100k_stop25k.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
# No target images needed: train on the dataset base's source set
# (Cityscapes) alone.
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, **_base_.source_dataset))
