# SAC (configs/synthetic/sac.py) with a stock MMSegmentation model as the
# student: SegFormer MiT-B0 (mmseg's segformer_mit-b0 model config, wrapped
# in UDASegmentor by ./abn_segformer_mit-b0_synthetic.py), fine-tuned from
# that ABN stage. The SAC parts are those of configs/synthetic/sac.py
# (tests/test_mix_configs.py keeps them equal); only the ABN target pass is
# switched off.
_base_ = ['./abn_segformer_mit-b0_synthetic.py']
model = dict(
    update_target_bn_stats=False,
    freeze_bn_stats=True,
    teacher=dict(momentum=0.01, interval=20),
    self_training=dict(
        type='AugmentationConsistency',
        views=dict(type='MultiCropViews', num_views=4, scale_range=(0.5, 1.0),
                   flip_prob=0.5),
        noise=dict(
            type='PhotometricNoise',
            blur_sigma_range=(0.1, 2.0),
            brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
            jitter_prob=0.5, grey_prob=0.2),
        pseudo_labeler=dict(
            type='AdaptivePseudoLabeler', momentum=0.99, zeta=0.75,
            beta=1e-3, min_threshold=None),
        loss=dict(type='FocalConfidenceLoss', focal_power=3.0,
                  loss_weight=5.0),
        rampup_iters=40))
custom_hooks = [dict(type='EMATeacherHook')]
train_dataloader = dict(batch_size=2)
load_from = 'work_dirs/mix_abn_segformer/iter_800.pth'
# the adaptation schedule of configs/_base_/schedules/synthetic_adapt.py
# (this config inherits the ABN stage's start schedule)
optim_wrapper = dict(segmentor=dict(optimizer=dict(lr=0.0025)))
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=400,
         by_epoch=False)
]
train_cfg = dict(max_iters=400, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=400))
