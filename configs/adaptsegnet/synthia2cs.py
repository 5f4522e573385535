# AdaptSegNet (Tsai et al., CVPR 2018) as the adversarial baseline of MRNet
# (Zheng & Yang, IJCAI 2020, Table 5), SYNTHIA -> Cityscapes (16 classes):
# DeepLabv2 ResNet-101 with two ASPP classifiers, one output-space
# FCDiscriminator per head (0.001 primary / 0.0002 aux, Adam 1e-4), MRNet's
# schedule (SGD lr 2e-4, poly over 100k, stopped at 25k, batch 2).
# Expected: 46.7 mIoU* (13 classes; the 16-class mIoU is not reported).
_base_ = [
    '../_base_/datasets/synthia2cs.py',
    '../_base_/models/deeplabv2_r101_dual_16cls.py',
    '../_base_/uda/adaptsegnet.py', '../_base_/schedules/poly_100k_stop25k.py',
    '../_base_/default_runtime.py'
]
model = dict(
    segmentor={{_base_.segmentor}},
    data_preprocessor={{_base_.data_preprocessor}})
