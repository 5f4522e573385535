# Adapt to your own camera, stage 2: SAC self-training on the camera images
# from the ABN model. See README "Adapt to your own camera".
_base_ = [
    './_base_/own_camera_data.py',
    '../_base_/models/deeplabv2_r18_small_dual.py', '../_base_/uda/sac.py',
    '../_base_/schedules/synthetic_adapt.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    teacher=dict(interval=20),
    self_training=dict(rampup_iters=40))
load_from = 'work_dirs/own_camera/abn/iter_800.pth'
# no target labels: no validation; the label-free signals (max-prob,
# entropy, head / teacher disagreement on 8 camera images) are logged with
# every checkpoint instead, to pick one without labels
val_cfg = None
test_cfg = None
default_hooks = dict(
    checkpoint=dict(interval=100, max_keep_ckpts=-1),
    label_free_signals=dict(interval=100))
work_dir = 'work_dirs/own_camera/sac'
