# GTA5 -> Cityscapes, MRNet / AdaptSegNet protocol (Zheng & Yang, IJCAI
# 2020, Sec. 4.1): batch 2 (one GTA5 + one Cityscapes image per pair);
# GTA5 images resized to 1280x640 and randomly cropped to 1024x512;
# Cityscapes training images (unlabelled) resized to 1024x512; evaluation
# on Cityscapes val, predicted at 1024x512, upsampled and scored against
# the full-resolution labels (19 classes).
#
# Layout:
#   data/gta/{images,labels}/00001.png ...            (official release)
#   data/cityscapes/leftImg8bit/{train,val}/CITY/*_leftImg8bit.png
#   data/cityscapes/gtFine/{train,val}/CITY/*_gtFine_labelIds.png
# Raw label ids are mapped on the fly (no conversion step).
_base_ = ['./uda_loaders.py']
source_root = 'data/gta'
target_root = 'data/cityscapes'
crop_size = (512, 1024)  # (h, w)
source_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=False),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadMappedAnnotations'),  # full-size labels
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='GTA5Dataset',
    data_root=source_root,
    label_mapping='cityscapes19',
    pipeline=source_pipeline)
target_train_dataset = dict(
    type='CityscapesRawDataset',
    data_root=target_root,
    label_mapping='cityscapes19',
    data_prefix=dict(
        img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
    with_labels=False,
    pipeline=target_train_pipeline)
target_val_dataset = dict(
    type='CityscapesRawDataset',
    data_root=target_root,
    label_mapping='cityscapes19',
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    pipeline=test_pipeline)

train_dataloader = dict(
    dataset=dict(source=source_dataset, target=target_train_dataset))
val_dataloader = dict(dataset=target_val_dataset)
test_dataloader = val_dataloader
