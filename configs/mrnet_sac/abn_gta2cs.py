# ABN pre-training (SAC stage 1, Araslanov & Roth, CVPR 2021) of the
# TWO-classifier DeepLabv2 ResNet-101 (MRNet's layout: auxiliary ASPP on
# layer3, primary on layer4), GTA5 -> Cityscapes, as the starting point of
# configs/mrnet_sac/gta2cs.py (memory regularisation needs two heads, so
# SAC's single-head ABN checkpoint does not fit). Otherwise identical to
# configs/sac/abn_gta2cs_r101.py: source CE (primary + 0.5 aux) on 640x640
# multi-scale crops, target batches through BatchNorm only.
# Expected: no published number (SAC's single-head ABN baseline: 40.8).
# Then:
#   python tools/train.py configs/mrnet_sac/abn_gta2cs.py \
#       --work-dir work_dirs/mrnet_sac/abn_gta2cs
#   python tools/compute_class_stats.py configs/mrnet_sac/abn_gta2cs.py \
#       work_dirs/mrnet_sac/abn_gta2cs/iter_100000.pth \
#       --out work_dirs/mrnet_sac/abn_gta2cs/class_stats.npy
#   python tools/train.py configs/mrnet_sac/gta2cs.py \
#       --work-dir work_dirs/mrnet_sac/gta2cs
_base_ = [
    '../_base_/datasets/gta2cs_sac_abn.py',
    '../_base_/models/deeplabv2_r101_dual.py', '../_base_/uda/abn.py',
    '../_base_/schedules/sac_constant.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    # the model base's preprocessor (caffe: BGR input minus the BGR mean,
    # as configs/mrnet_sac/gta2cs.py, which starts from this checkpoint),
    # padding batches to the 640x640 crops
    data_preprocessor=dict(_base_.data_preprocessor, size=_base_.crop_size))
