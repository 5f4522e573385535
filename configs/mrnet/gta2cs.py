# MRNet stage I (Zheng & Yang, IJCAI 2020, "Unsupervised Scene Adaptation
# with Memory Regularization in vivo"), GTA5 -> Cityscapes: DeepLabv2
# ResNet-101 with the primary (layer4) and auxiliary (layer3) ASPP
# classifiers; source CE (primary + 0.5 aux), output-space adversarial
# training of both heads (0.001 / 0.0002) and the memory regularisation
# (symmetric KL between the heads on target images, lambda 0.1) from
# iteration 10k; SGD lr 2e-4 (heads 10x), poly over 100k iterations,
# stopped at 25k; batch 2, 1024x512 crops of GTA5 resized to 1280x640,
# Cityscapes resized to 1024x512.
# Class balance (paper Sec. 4.1, CBST's policy; weights as in the release):
# ClassBalancedCrossEntropyLoss on both classifiers, also in stage II.
# Expected: 45.5 mIoU stage I (paper; 48.3 after stage II,
# configs/mrnet/gta2cs_stage2.py).
_base_ = [
    '../_base_/datasets/gta2cs.py',
    '../_base_/models/deeplabv2_r101_dual_class_balanced.py',
    '../_base_/uda/mrnet.py', '../_base_/schedules/poly_100k_stop25k.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
