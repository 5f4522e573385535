# SYNTHIA -> Cityscapes, MRNet / AdaptSegNet protocol (Zheng & Yang, IJCAI
# 2020, Sec. 4.1) on the 16 classes shared by SYNTHIA and Cityscapes
# (Cityscapes order without terrain, truck and train). Batch 2 (one SYNTHIA
# + one Cityscapes image per pair); SYNTHIA images kept at their 1280x760
# size (the paper states 1280x640 for its inputs without distinguishing the
# sources; the release keeps SYNTHIA's 1280x760) and randomly cropped to
# 1024x512; Cityscapes training images (unlabelled) resized to 1024x512.
# Evaluation on Cityscapes val, predicted at 1024x512, scored at full
# resolution: mIoU over the 16 classes and mIoU* over 13 of them (without
# wall, fence and pole), from the same confusion statistics.
#
# Layout:
#   data/synthia/RAND_CITYSCAPES/RGB/0000000.png ...
#   data/synthia/RAND_CITYSCAPES/GT/LABELS/0000000.png ...   (16-bit)
#   data/cityscapes/{leftImg8bit,gtFine}/{train,val}/CITY/...
# gta2cs.py (target side, loaders, evaluation) with only what differs set
# here: the partial dicts below are merged into those of gta2cs.py.
_base_ = ['./gta2cs.py']
source_root = 'data/synthia/RAND_CITYSCAPES'
source_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='Resize', scale=(1280, 760), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='SynthiaDataset',
    data_root=source_root,
    label_mapping='synthia16',
    pipeline=source_pipeline)
target_train_dataset = dict(label_mapping='cityscapes16')
target_val_dataset = dict(label_mapping='cityscapes16')
train_dataloader = dict(
    dataset=dict(source=source_dataset, target=target_train_dataset))
val_dataloader = dict(dataset=target_val_dataset)
test_dataloader = val_dataloader
# mIoU* (13 classes): the 16 without wall, fence and pole
# (SynthiaDataset.MIOU13_EXCLUDED).
miou13_classes = [
    'road', 'sidewalk', 'building', 'traffic light', 'traffic sign',
    'vegetation', 'sky', 'person', 'rider', 'car', 'bus', 'motorcycle',
    'bicycle'
]
val_evaluator = dict(class_subsets={'mIoU*': miou13_classes})
test_evaluator = val_evaluator
