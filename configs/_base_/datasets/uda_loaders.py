# Loaders and metric of the UDA protocols (gta2cs.py, synthia2cs.py,
# cs2robotcar.py; synthetic_gta2cs.py with fewer workers): batch 2 (one
# source + one target image per pair, drawn by UDAInfiniteSampler),
# validation one image at a time, mIoU.
# A dataset base inherits this file and fills in its datasets:
#   train_dataloader = dict(
#       dataset=dict(source=source_dataset, target=target_train_dataset))
#   val_dataloader = dict(dataset=target_val_dataset)
#   test_dataloader = val_dataloader
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='UDAInfiniteSampler'),
    dataset=dict(type='UDADataset'))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='UDAIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
