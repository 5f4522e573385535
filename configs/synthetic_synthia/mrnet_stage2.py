# MRNet stage II on the synthetic SYNTHIA -> Cityscapes benchmark (16
# classes; Zheng & Yang, IJCAI 2020, Sec. 3.3): fine-tune the stage-I model
# (configs/synthetic_synthia/mrnet.py) on the target domain only, with
# pseudo-label CE (primary + 0.5 aux, the dual head's loss) plus the memory
# regularisation (symmetric KL, lambda 0.1) on the same pseudo-labelled batch
# from the first iteration, with the class-balanced CE and TTA pseudo labels
# (why: see configs/synthetic/mrnet_stage2.py).
# configs/synthetic/mrnet_stage2.py with the SYNTHIA bases.
#
# End to end:
#   python tools/train.py configs/synthetic_synthia/mrnet.py \
#       --work-dir work_dirs/synthetic_synthia_mrnet
#   python tools/gen_pseudo_labels.py configs/synthetic_synthia/mrnet.py \
#       work_dirs/synthetic_synthia_mrnet/iter_400.pth \
#       --out work_dirs/pseudo/synthetic_synthia_mrnet --tta
#   python tools/train.py configs/synthetic_synthia/mrnet_stage2.py \
#       --work-dir work_dirs/synthetic_synthia_mrnet_stage2
# `load_from` is the last stage-I checkpoint and `pseudo_label_dir` the folder gen_pseudo_labels.py
# wrote (16-class train ids); override them with --cfg-options load_from=...
# and train_dataloader.dataset.pseudo_label_dir=...
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls_class_balanced.py',
    '../_base_/uda/source_only.py',
    '../_base_/schedules/synthetic_adapt.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1),
    memory_reg_on='labelled',
    memory_reg_start_iter=0)
# Target images (the Cityscapes-format train split, 16-class label space)
# with their pseudo labels, augmented like the source images of stage I
# (the dataset base's source pipeline: resize, 96x192 crop, flip).
stage2_pipeline = {{_base_.source_pipeline}}
train_dataloader = dict(
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        dataset={{_base_.target_train_dataset}},
        pseudo_label_dir='work_dirs/pseudo/synthetic_synthia_mrnet',
        pipeline=stage2_pipeline))
load_from = 'work_dirs/synthetic_synthia_mrnet/iter_400.pth'
