# deeplabv2_r18_small_dual_class_balanced.py for the 16 classes of SYNTHIA ->
# Cityscapes (the same as deeplabv2_r18_small_dual_16cls.py, plus the
# class-balanced CE sized for 16 classes).
_base_ = ['./deeplabv2_r18_small_dual_class_balanced.py']
num_classes = 16
segmentor = dict(
    decode_head=dict(
        num_classes=num_classes,
        loss_decode=dict(num_classes=num_classes)))
