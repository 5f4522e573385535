# MRNet stage I on the synthetic benchmark, adapting the converged
# source-only start (`python tools/train.py configs/synthetic/source_only.py
# --work-dir work_dirs/synthetic_source_only` first): AdaptSegNet's
# adversary, CBST-style class-balanced source CE (the paper adopts CBST's
# class balance; see the model base) and the memory regularisation from 40%
# of the schedule (the paper's 10k of 25k iterations).
_base_ = [
    '../_base_/datasets/synthetic_gta2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_class_balanced.py',
    '../_base_/uda/mrnet.py', '../_base_/schedules/synthetic_adapt.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    # half-width discriminators (ndf 32) for the small model's 19-class maps
    adversary=dict(discriminators=dict(
        primary=dict(ndf=32), aux=dict(ndf=32))),
    memory_reg_start_iter=160)
load_from = 'work_dirs/synthetic_source_only/iter_800.pth'
