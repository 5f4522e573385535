# SAC's ABN pre-training on the synthetic benchmark (source CE, target images
# through BatchNorm without loss).
_base_ = [
    '../_base_/datasets/synthetic_gta2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual.py', '../_base_/uda/abn.py',
    '../_base_/schedules/synthetic.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
