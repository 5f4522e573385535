# SAC on the synthetic SYNTHIA -> Cityscapes benchmark (16 classes),
# fine-tuned from the ABN model (`python tools/train.py
# configs/synthetic_synthia/abn.py` first). The teacher updates every 20
# iterations here (100 in the paper's 10^5-iteration runs).
# configs/synthetic/sac.py with the SYNTHIA bases.
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls.py',
    '../_base_/uda/sac.py', '../_base_/schedules/synthetic_finetune.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    teacher=dict(interval=20),
    self_training=dict(loss=dict(loss_weight=1.0), rampup_iters=50))
load_from = 'work_dirs/synthetic_synthia/abn/seed0/iter_500.pth'
# For tools/run_benchmark.py: the ABN stage (./abn.py, this folder) runs
# first with the same seed and its checkpoint becomes load_from.
stage_from = 'abn.py'
