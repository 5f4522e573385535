# SAC's ABN pre-training on the synthetic SYNTHIA -> Cityscapes benchmark
# (16 classes; source CE, target images through BatchNorm without loss).
# configs/synthetic/abn.py with the SYNTHIA bases.
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls.py',
    '../_base_/uda/abn.py', '../_base_/schedules/synthetic.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
