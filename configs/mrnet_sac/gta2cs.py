# SAC (Araslanov & Roth, CVPR 2021) + MRNet's memory regularisation (Zheng
# & Yang, IJCAI 2020), GTA5 -> Cityscapes: configs/sac/gta2cs_r101.py (same
# data, sampler, teacher, pseudo labels, focal loss x5, schedule) with the
# symmetric KL between the student's two classifiers on the noisy target
# views added (lambda 0.1, from the first iteration: the model starts from
# an ABN checkpoint, so MRNet's 10k warm-up against early noise is not
# repeated). Memory regularisation needs TWO classifiers, so this config
# uses the dual-head DeepLabv2 ResNet-101 (deeplabv2_r101_dual.py, MRNet's
# layout) instead of SAC's single-head model; the self-training loss also
# applies to the auxiliary head (weight 0.5), and evaluation fuses both
# heads (F_p + 0.5 F_a). It starts from the dual-head ABN model of
# configs/mrnet_sac/abn_gta2cs.py:
#   python tools/train.py configs/mrnet_sac/gta2cs.py \
#       --work-dir work_dirs/mrnet_sac/gta2cs
# Expected: no published number (references: SAC 53.8, MRNet stage I 45.5).
_base_ = [
    '../_base_/datasets/gta2cs_sac.py',
    '../_base_/models/deeplabv2_r101_dual.py', '../_base_/uda/sac.py',
    '../_base_/schedules/sac_constant.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}},
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1),
    memory_reg_start_iter=0)
train_dataloader = dict(
    sampler=dict(
        class_stats_file='work_dirs/mrnet_sac/abn_gta2cs/class_stats.npy'))
load_from = 'work_dirs/mrnet_sac/abn_gta2cs/iter_100000.pth'
