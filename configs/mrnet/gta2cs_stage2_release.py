# MRNet stage II as in the authors' public release (GTA5 -> Cityscapes):
# pseudo-label CE (primary + 0.5 aux) WITHOUT memory regularisation,
# Dropout2d 0.2 before the classifiers, SGD lr 1e-4 (heads 10x), batch 9 of
# 512x256 crops from target images resized to 1280x640, BN layers trained.
# The release's pseudo labels sum softmax(z_p + 0.5 z_a) over two scales x
# horizontal flip:
#   python tools/gen_pseudo_labels.py configs/mrnet/gta2cs.py \
#       work_dirs/mrnet/gta2cs/iter_25000.pth \
#       --out work_dirs/pseudo/mrnet_gta2cs --fusion logit --tta
# (use a separate --out if paper-style labels already live there).
# Random flips are kept from the stage-II pipeline.
# The stage-II model must match the stage-I checkpoint's architecture.
_base_ = ['./gta2cs_stage2.py']
model = dict(
    memory_reg=None,
    data_preprocessor=dict(size=(256, 512)),
    segmentor=dict(decode_head=dict(dropout_ratio=0.2)))
train_dataloader = dict(
    batch_size=9,
    dataset=dict(pipeline=[
        dict(type='LoadCheckedImageFromFile'),
        dict(type='LoadMappedAnnotations'),
        dict(type='Resize', scale=(1280, 640), keep_ratio=True),
        dict(type='RandomCrop', crop_size=(256, 512)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ]))
optim_wrapper = dict(segmentor=dict(optimizer=dict(lr=1e-4)))
