# deeplabv2_r101_dual_class_balanced.py (the class-balanced cross-entropy of
# MRNet on both classifiers; the paper / release notes are there) for the 16
# classes of SYNTHIA -> Cityscapes (the label space of
# deeplabv2_r101_dual_16cls.py): the head and its loss sized for 16 classes.
_base_ = ['./deeplabv2_r101_dual_class_balanced.py']
num_classes = 16
segmentor = dict(
    decode_head=dict(
        num_classes=num_classes,
        loss_decode=dict(num_classes=num_classes)))
