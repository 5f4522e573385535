# SAC (Araslanov & Roth, CVPR 2021, "Self-supervised Augmentation Consistency
# for Adapting Semantic Segmentation"), GTA5 -> Cityscapes, DeepLabv2
# ResNet-101, fine-tuned from the ABN model of configs/sac/abn_gta2cs_r101.py:
# BN statistics frozen; momentum teacher (0.99, every 100 iterations); 4 views
# per target image fused into pseudo labels with the moving-class-prior
# thresholds (zeta 0.75, beta 1e-3); focal confidence loss (lambda 3) weighted
# 5 (ResNet-101); class-balanced target sampling; SGD lr 2.5e-4 constant (ASPP
# 10x); 1024x512 inputs, evaluation at 2048x1024.
# Batch per step: 8 source + 2 target images (x 4 views = 8 target
# views), paper Sec. 4.1, as one GPU runs it; for 2 / 4 GPUs see the
# dataset base gta2cs_sac.py.
# Pseudo-label threshold floor: None (paper). The release clamps the thresholds
# from below at 0.2 (ResNet-101); to follow it add to the model dict:
#   self_training=dict(pseudo_labeler=dict(min_threshold=0.2))
# Expected: 53.8 mIoU (19 classes) (paper).
# Needs the checkpoint and class_stats.npy in
# work_dirs/sac/abn_gta2cs_r101/
# (see configs/sac/abn_gta2cs_r101.py).
_base_ = [
    '../_base_/datasets/gta2cs_sac.py', '../_base_/models/deeplabv2_r101.py',
    '../_base_/uda/sac.py', '../_base_/schedules/sac_constant.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(
    sampler=dict(
        class_stats_file='work_dirs/sac/abn_gta2cs_r101/class_stats.npy'))
load_from = 'work_dirs/sac/abn_gta2cs_r101/iter_100000.pth'
