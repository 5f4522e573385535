# GTA5 -> Cityscapes, SAC stage 1: ABN pre-training data (Araslanov & Roth,
# CVPR 2021, Sec. 3.4 / 4.1), on top of gta2cs_sac.py (same roots and
# evaluation). Source and target images alike: random rescale by 0.5-2.0
# (of a 1024x512 base size), random 640x640 crop, flip, colour jitter
# (mmseg's PhotoMetricDistortion). The target images only pass through
# BatchNorm (no loss). Uniform target sampling.
# Batch: the paper's 16 with SyncBN over 4 GPUs -> batch_size=4 per GPU
# (4 source + 4 target images each).
_base_ = ['./gta2cs_sac.py']
crop_size = (640, 640)  # (h, w)
source_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='RandomResize', scale=(1024, 512), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
source_dataset = dict(pipeline=source_pipeline)
target_train_dataset = dict(pipeline=target_train_pipeline)
train_dataloader = dict(
    batch_size=4,
    batch_sampler=None,  # ABN: one target image per source image
    sampler=dict(_delete_=True, type='UDAInfiniteSampler'),
    dataset=dict(
        source=dict(pipeline=source_pipeline),
        target=dict(pipeline=target_train_pipeline)))
