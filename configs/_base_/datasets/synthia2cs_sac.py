# SYNTHIA -> Cityscapes (16 classes, mIoU and mIoU*), SAC adaptation
# protocol (Araslanov & Roth, CVPR 2021, Sec. 4.1), on top of synthia2cs.py
# (same roots, same 1024x512 SYNTHIA crops, same evaluator):
# - target: Cityscapes training images resized to 1024x512, no flip here
#   (the model makes 4 views per image itself: the full image + 3 random
#   crops, each flipped with p = 0.5);
# - target images drawn by the class-balanced importance sampler (Eq. 7-8)
#   from per-image class statistics of the ABN model; 25% of the draws
#   uniform (release; the paper draws all class-driven, uniform_ratio=0).
#   Make the file once per ABN model, e.g.
#     python tools/compute_class_stats.py configs/sac/abn_synthia2cs_r101.py \
#         work_dirs/sac/abn_synthia2cs_r101/iter_100000.pth \
#         --out work_dirs/sac/abn_synthia2cs_r101/class_stats.npy
#   (--mode soft: the paper's mean probabilities, the default; --mode
#   count: the release's predicted-pixel shares). Final configs point
#   `train_dataloader.sampler.class_stats_file` at their ABN model's file.
# - evaluation at the full 2048x1024 resolution (single scale).
# Batch: the paper uses 8 source + 2 target images (x 4 views) over 4 GPUs.
# UDADataset yields (source, target) pairs, so the two counts cannot
# differ: batch_size=2 gives 2 source + 2 target images (8 target views) per
# GPU, i.e. the paper's target batch on one GPU, or 8 + 8 on four.
_base_ = ['./synthia2cs.py']
target_train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='PackSegInputs'),
]
target_train_dataset = dict(pipeline=target_train_pipeline)
target_val_dataset = dict(pipeline=test_pipeline)
train_dataloader = dict(
    batch_size=2,
    sampler=dict(
        type='ClassBalancedTargetSampler',
        class_stats_file='work_dirs/sac/abn_synthia2cs_r101/class_stats.npy',
        uniform_ratio=0.25),
    dataset=dict(target=dict(pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
