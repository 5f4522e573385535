# deeplabv2_r18_small_dual.py (the small model of the embedded synthetic
# benchmark) predicting the 16 classes of the SYNTHIA -> Cityscapes protocol
# (Cityscapes order without terrain, truck and train).
# A final config copies `segmentor` whole from its model base and cannot
# change the class count afterwards, so every label space has a model base.
_base_ = ['./deeplabv2_r18_small_dual.py']
num_classes = 16
segmentor = dict(decode_head=dict(num_classes=num_classes))
