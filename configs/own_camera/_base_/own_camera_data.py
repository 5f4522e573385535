# Data of "Adapt to your own camera" (README): a labelled source given as an
# image folder + a label folder + a label-id map, and the unlabelled target
# as a plain folder tree of images. As written it runs on the embedded
# synthetic benchmark (`python tools/make_synthetic.py --out data/synthetic`):
# the GTA-format images are the source, the Cityscapes-format training
# images stand in for one's own camera. For your data change the paths, the
# extensions, `label_ids` and, for other classes, `label_space` (or
# metainfo=dict(classes=..., palette=...)) plus num_classes of the model.
camera_images = 'data/synthetic/cityscapes/leftImg8bit/train'  # any tree
source_images = 'data/synthetic/gta/images'
source_labels = 'data/synthetic/gta/labels'  # <rel path of image>.png
# raw id in the label files -> train id (here the Cityscapes label ids of
# the 19 classes); ids not listed are ignored (255)
label_ids = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}
img_scale = (256, 128)  # (w, h) the camera images are resized to
crop_size = (128, 256)  # (h, w) training crops of the source
source_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),
    dict(type='Resize', scale=(320, 160), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# used by tools/export_model.py, infer.py, gen_pseudo_labels.py,
# compute_class_stats.py and the label-free signals
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackSegInputs'),
]
source_dataset = dict(
    type='ImageFolderDataset',
    data_prefix=dict(img_path=source_images, seg_map_path=source_labels),
    with_labels=True,
    label_ids=label_ids,
    label_space='cityscapes19',
    pipeline=source_pipeline)
camera_dataset = dict(
    type='ImageFolderDataset',
    data_prefix=dict(img_path=camera_images),
    extensions=('.png', '.jpg', '.jpeg'),
    recursive=True,
    label_space='cityscapes19',
    pipeline=target_train_pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(
        type='UDADataset', source=source_dataset, target=camera_dataset))
# No target labels: no validation (the method configs set val_cfg = None
# and test_cfg = None, which the schedule base defines).
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
