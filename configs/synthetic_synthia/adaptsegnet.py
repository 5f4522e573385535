# AdaptSegNet (output-space adversarial, both heads) on the synthetic
# SYNTHIA -> Cityscapes benchmark (16 classes).
# configs/synthetic/adaptsegnet.py with the SYNTHIA bases.
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls.py',
    '../_base_/uda/adaptsegnet.py', '../_base_/schedules/synthetic_adapt.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    # half-width discriminators (ndf 32), as for the GTA-format benchmark
    adversary=dict(discriminators=dict(
        primary=dict(ndf=32), aux=dict(ndf=32))))
load_from = 'work_dirs/synthetic_synthia_source_only/iter_800.pth'
