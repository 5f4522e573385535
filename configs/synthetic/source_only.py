# Source-only baseline on the synthetic benchmark: train on GTA-format source
# labels, evaluate on the Cityscapes-format target val split.
_base_ = [
    '../_base_/datasets/synthetic_gta2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual.py',
    '../_base_/uda/source_only.py', '../_base_/schedules/synthetic.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
# the dataset base's source set alone (no target images)
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, **_base_.source_dataset))
