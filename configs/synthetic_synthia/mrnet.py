# MRNet stage I on the synthetic SYNTHIA -> Cityscapes benchmark (16
# classes), adapting the converged source-only start: class-balanced source
# CE, memory regularisation from 40% of the schedule (the paper's 10k of
# 25k). configs/synthetic/mrnet.py with the SYNTHIA bases.
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls_class_balanced.py',
    '../_base_/uda/mrnet.py', '../_base_/schedules/synthetic_adapt.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    # half-width discriminators (ndf 32), as for the GTA-format benchmark
    adversary=dict(discriminators=dict(
        primary=dict(ndf=32), aux=dict(ndf=32))),
    memory_reg_start_iter=160)
load_from = 'work_dirs/synthetic_synthia_source_only/iter_800.pth'
