# deeplabv2_r101_dual.py with the class-balanced cross-entropy on both
# classifiers: MRNet (Zheng & Yang, IJCAI 2020, Sec. 4.1) "adopts the class
# balance policy of CBST to increase the weight of the rare class and the
# small-scale objects"; the weighting is the authors' release (a class with
# fewer than 64x64 pixels per image weighted 7x, absent classes by a moving
# "often" weight), see ClassBalancedCrossEntropyLoss. The release's stage I
# also trains the source CE on the hardest 20% of the pixels only
# (--only-hard-label 80); to follow it add hard_percentile=80. to the loss.
_base_ = ['./deeplabv2_r101_dual.py']
segmentor = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='ClassBalancedCrossEntropyLoss',
            num_classes={{_base_.num_classes}},
            max_weight=7.0,
            min_pixels=64 * 64,
            often_balance=True)))
