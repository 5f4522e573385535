# Oracle on the synthetic SYNTHIA -> Cityscapes benchmark (16 classes): the
# same model and budget trained on the target domain's own training labels,
# mapped to the 16 classes (upper bound for adaptation).
# configs/synthetic/oracle.py with the SYNTHIA bases.
_base_ = ['./source_only.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CityscapesRawDataset',
        data_root={{_base_.target_root}},
        label_mapping='cityscapes16',
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline={{_base_.source_pipeline}}))
# The oracle trains to its own plateau: twice the starts' 800 iterations
# (docs/results: its curve), target val every 400.
oracle_iters = 1600
train_cfg = dict(max_iters=oracle_iters, val_interval=400)
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=oracle_iters,
         by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=oracle_iters))
