# AdaptSegNet (output-space adversarial, both heads) on the synthetic
# benchmark, adapting the converged source-only start
# (`python tools/train.py configs/synthetic/source_only.py --work-dir
# work_dirs/synthetic_source_only` first) for the adaptation schedule.
_base_ = [
    '../_base_/datasets/synthetic_gta2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual.py',
    '../_base_/uda/adaptsegnet.py', '../_base_/schedules/synthetic_adapt.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    # half-width discriminators (ndf 32) for the small model's 19-class maps
    adversary=dict(discriminators=dict(
        primary=dict(ndf=32), aux=dict(ndf=32))))
load_from = 'work_dirs/synthetic_source_only/iter_800.pth'
