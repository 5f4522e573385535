# Cityscapes -> Oxford RobotCar, cross-city protocol of Tsai et al. (ICCV
# 2019) as used by MRNet (Zheng & Yang, IJCAI 2020): 9 classes (sky,
# person, two-wheel, automobile, sign, light, building, sidewalk, road).
# Source: Cityscapes train with labels mapped to the 9 RobotCar classes,
# resized to 1280x640 and randomly cropped to 1024x512 (MRNet's input
# rule). Target: the 894 unlabelled RobotCar training images at their
# 1280x960 size (the same width as the resized source), randomly cropped to
# 1024x512. Evaluation: the 271 labelled RobotCar val images at full
# 1280x960 (as the authors' evaluation script does). Batch 2.
#
# Layout (Oxford_Robot_ICCV19 release):
#   data/Oxford_Robot_ICCV19/train/**.png      unlabelled target images
#   data/Oxford_Robot_ICCV19/{val,anno}/NAME.png
#   data/cityscapes/{leftImg8bit,gtFine}/train/CITY/...
# Images are listed from the folders; to use the release's list files set
# ann_file (e.g. robot_list/train.txt) on the RobotCar datasets.
_base_ = ['./uda_loaders.py']
source_root = 'data/cityscapes'
target_root = 'data/Oxford_Robot_ICCV19'
crop_size = (512, 1024)  # (h, w)
source_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(1280, 960), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(1280, 960), keep_ratio=True),
    dict(type='LoadMappedAnnotations'),  # full-size labels
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='CityscapesRawDataset',
    data_root=source_root,
    label_mapping='cityscapes_to_robotcar9',
    data_prefix=dict(
        img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
    pipeline=source_pipeline)
target_train_dataset = dict(
    type='RobotCarDataset',
    data_root=target_root,
    label_mapping='robotcar9',
    data_prefix=dict(img_path='train'),
    with_labels=False,
    pipeline=target_train_pipeline)
target_val_dataset = dict(
    type='RobotCarDataset',
    data_root=target_root,
    label_mapping='robotcar9',
    data_prefix=dict(img_path='val', seg_map_path='anno'),
    pipeline=test_pipeline)

train_dataloader = dict(
    dataset=dict(source=source_dataset, target=target_train_dataset))
val_dataloader = dict(dataset=target_val_dataset)
test_dataloader = val_dataloader
