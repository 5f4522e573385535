# MRNet stage I (Zheng & Yang, IJCAI 2020), SYNTHIA -> Cityscapes on the 16
# shared classes: DeepLabv2 ResNet-101 with two ASPP classifiers; source CE
# (primary + 0.5 aux), output-space adversarial training of both heads
# (0.001 / 0.0002) and the memory regularisation (symmetric KL, lambda 0.1)
# from iteration 10k; SGD lr 2e-4 (heads 10x), poly over 100k iterations,
# stopped at 25k; batch 2, 1024x512 crops. Reports mIoU (16 classes) and
# mIoU* (13 classes, without wall, fence, pole).
# Class balance (paper Sec. 4.1, CBST's policy; weights as in the release):
# ClassBalancedCrossEntropyLoss on both classifiers, also in stage II.
# Expected: 43.2 mIoU / 50.2 mIoU* stage I (paper; 46.5 / 53.8 after stage
# II, configs/mrnet/synthia2cs_stage2.py).
_base_ = [
    '../_base_/datasets/synthia2cs.py',
    '../_base_/models/deeplabv2_r101_dual_16cls_class_balanced.py',
    '../_base_/uda/mrnet.py',
    '../_base_/schedules/poly_100k_stop25k.py', '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
