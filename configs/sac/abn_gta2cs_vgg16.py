# SAC stage 1 (Araslanov & Roth, CVPR 2021, "Self-supervised Augmentation
# Consistency for Adapting Semantic Segmentation", Sec. 3.4): ABN pre-training
# of DeepLabv2 VGG-16 (with BN) for GTA5 -> Cityscapes: source CE on 640x640
# multi-scale crops; every step the target batch also passes through the
# network in train mode (no loss, no gradient) so that the BatchNorm statistics
# cover both domains. SyncBN, batch 4 per GPU (16 on 4 GPUs).
# Expected: 37.1 mIoU (the paper's ABN baseline).
# Then the class statistics of the target sampler, then the adaptation:
#   python tools/train.py configs/sac/abn_gta2cs_vgg16.py \
#       --work-dir work_dirs/sac/abn_gta2cs_vgg16
#   python tools/compute_class_stats.py configs/sac/abn_gta2cs_vgg16.py \
#       work_dirs/sac/abn_gta2cs_vgg16/iter_100000.pth \
#       --out work_dirs/sac/abn_gta2cs_vgg16/class_stats.npy
#   python tools/train.py configs/sac/gta2cs_vgg16.py \
#       --work-dir work_dirs/sac/gta2cs_vgg16
_base_ = [
    '../_base_/datasets/gta2cs_sac_abn.py',
    '../_base_/models/deeplabv2_vgg16.py', '../_base_/uda/abn.py',
    '../_base_/schedules/sac_constant.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    # the model base's preprocessor, padding batches to the 640x640 crops
    data_preprocessor=dict(_base_.data_preprocessor, size=_base_.crop_size))
