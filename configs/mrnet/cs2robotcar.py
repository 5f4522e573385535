# MRNet stage I (Zheng & Yang, IJCAI 2020), Cityscapes -> Oxford RobotCar
# (cross-city, 9 classes): DeepLabv2 ResNet-101 with two ASPP classifiers;
# source CE (primary + 0.5 aux) on Cityscapes, output-space adversarial
# training of both heads (0.001 / 0.0002) and the memory regularisation
# (symmetric KL, lambda 0.1) on RobotCar images from iteration 10k; SGD lr
# 2e-4 (heads 10x), poly over 100k iterations, stopped at 25k; batch 2,
# 1024x512 crops. Evaluated on the 271 RobotCar val images.
# Class balance (paper Sec. 4.1, CBST's policy; weights as in the release):
# ClassBalancedCrossEntropyLoss on both classifiers, also in stage II.
# Expected: 72.5 mIoU stage I (paper; 73.9 after stage II,
# configs/mrnet/cs2robotcar_stage2.py).
_base_ = [
    '../_base_/datasets/cs2robotcar.py',
    '../_base_/models/deeplabv2_r101_dual_9cls_class_balanced.py',
    '../_base_/uda/mrnet.py',
    '../_base_/schedules/poly_100k_stop25k.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
