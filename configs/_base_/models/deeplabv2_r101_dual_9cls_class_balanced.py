# deeplabv2_r101_dual_class_balanced.py (the class-balanced cross-entropy of
# MRNet on both classifiers; the paper / release notes are there) for the 9
# classes of Cityscapes -> Oxford RobotCar (the label space of
# deeplabv2_r101_dual_9cls.py): the head and its loss sized for 9 classes.
_base_ = ['./deeplabv2_r101_dual_class_balanced.py']
num_classes = 9
segmentor = dict(
    decode_head=dict(
        num_classes=num_classes,
        loss_decode=dict(num_classes=num_classes)))
