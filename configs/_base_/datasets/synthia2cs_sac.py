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
# Batch per training step (paper Sec. 4.1; release TRAIN.BATCH_SIZE 8,
# NUM_GROUPS 2, GROUP_SIZE 4): 8 source images + 2 target images, each
# target image making 4 views (the model makes them), i.e. 8 source images
# and 8 target views, with SGD lr 2.5e-4 for that step (schedule base).
# mmengine's batch_size is per process; UDABatchSampler gives a process
# fewer target than source images. Per GPU count:
# - 1 GPU (default here): batch_size=8, target_batch_size=2;
# - 2 GPUs: 4 + 1 per GPU, add
#     --cfg-options train_dataloader.batch_size=4 \
#         train_dataloader.batch_sampler.target_batch_size=1
# - 4 GPUs (the paper's hardware for ResNet-101): 2 source images and half
#   a target image per GPU; the release splits the 4 views of one image
#   over two GPUs and gathers them for the fusion, this project fuses the
#   views of an image within one process, so 4 GPUs give at best 2 + 1 per
#   GPU (batch_size=2, target_batch_size=1): 8 source + 4 target images
#   (16 views) per step, twice the paper's target batch.
# Keep 8 source images per step (1 or 2 GPUs) to keep the paper's lr; for
# another total batch scale the lr yourself (it is not rescaled here).
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
    batch_size=8,  # source images per process
    batch_sampler=dict(type='UDABatchSampler', target_batch_size=2),
    sampler=dict(
        type='ClassBalancedTargetSampler',
        class_stats_file='work_dirs/sac/abn_synthia2cs_r101/class_stats.npy',
        uniform_ratio=0.25),
    dataset=dict(target=dict(pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
