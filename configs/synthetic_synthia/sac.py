# SAC on the synthetic SYNTHIA -> Cityscapes benchmark (16 classes),
# adapting the converged ABN start (`python tools/train.py
# configs/synthetic_synthia/abn.py --work-dir work_dirs/synthetic_synthia_abn`
# first); teacher every 20 iterations, target loss ramped in over 10% (why:
# see configs/synthetic/sac.py).
# configs/synthetic/sac.py with the SYNTHIA bases.
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls.py',
    '../_base_/uda/sac.py', '../_base_/schedules/synthetic_adapt.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    teacher=dict(interval=20),
    self_training=dict(rampup_iters=40))
load_from = 'work_dirs/synthetic_synthia_abn/iter_800.pth'
