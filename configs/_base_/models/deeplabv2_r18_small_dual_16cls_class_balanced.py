# configs/_base_/models/deeplabv2_r18_small_dual_class_balanced.py for the
# 16 classes of SYNTHIA -> Cityscapes.
_base_ = ['./deeplabv2_r18_small_dual_16cls.py']
segmentor = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='ClassBalancedCrossEntropyLoss',
            num_classes=16,
            min_pixels=256)))
