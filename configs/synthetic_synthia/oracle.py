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
