# Benchmark manifest: the SYNTHIA-format -> Cityscapes-format synthetic
# benchmark (16 classes, mIoU and mIoU* over 13). Same protocol and runs as
# ./synthetic_gta2cs.py on the configs of configs/synthetic_synthia/.
_base_ = ['./synthetic_gta2cs.py']
config_root = '../synthetic_synthia'
