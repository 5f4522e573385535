# The small synthetic-benchmark model with the class-balanced cross-entropy
# (MRNet release: classes with fewer than `min_pixels` pixels per image
# weighted 7x, absent classes by a moving "often" weight) on both heads.
# `min_pixels` scales the release's 64x64 of a 1024x512 crop to the
# benchmark's 96x192 crops (64*64 * 96*192 / (512*1024) = 144). Used by the
# synthetic MRNet stage I (the paper adopts CBST's class balance) and
# stage II (pseudo labels dominated by the large classes).
_base_ = ['./deeplabv2_r18_small_dual.py']
segmentor = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='ClassBalancedCrossEntropyLoss',
            num_classes=19,
            min_pixels=144)))
