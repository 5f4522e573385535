# Oracle on the synthetic benchmark: the same model and budget trained on the
# target domain's own training labels (upper bound for adaptation).
_base_ = ['./source_only.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CityscapesRawDataset',
        data_root={{_base_.target_root}},
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline={{_base_.source_pipeline}}))
