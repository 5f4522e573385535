# Source-only baseline on the synthetic SYNTHIA -> Cityscapes benchmark
# (16 classes): configs/synthetic/source_only.py with the SYNTHIA bases;
# train on SYNTHIA-format source labels, evaluate on the Cityscapes-format
# target val split (mIoU over 16 classes, mIoU* over 13).
#
# Every config of this folder is the GTA-format one of configs/synthetic/ of
# the same name with the SYNTHIA-format dataset base and the 16-class model
# base (mirrors, not children of the GTA configs). A child cannot swap a
# base of its parent: MMEngine refuses a key defined in two bases, the GTA
# config already defines every data and model key, and its `model`,
# `train_dataloader` and evaluators were resolved from the GTA bases. A
# child must therefore restate the whole SYNTHIA delta (16 classes, source,
# label mappings, mIoU*: about 19 lines, the same in all 8 configs) where a
# mirror restates only its method lines (2 to 14) and keeps that delta once,
# in the two SYNTHIA bases. tests/test_synthetic_synthia_configs.py keeps
# each parsed config equal to its GTA twin but for the data and class keys.
_base_ = [
    '../_base_/datasets/synthetic_synthia2cs.py',
    '../_base_/models/deeplabv2_r18_small_dual_16cls.py',
    '../_base_/uda/source_only.py', '../_base_/schedules/synthetic.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
# the dataset base's source set alone (no target images)
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, **_base_.source_dataset))
