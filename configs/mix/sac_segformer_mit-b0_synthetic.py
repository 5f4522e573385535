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
                  loss_weight=1.0),
        rampup_iters=50))
custom_hooks = [dict(type='EMATeacherHook')]
train_dataloader = dict(batch_size=2)
load_from = 'work_dirs/mix/abn_segformer_mit-b0_synthetic/seed0/iter_500.pth'
# For tools/run_benchmark.py: the ABN stage runs first with the same seed and
# its checkpoint becomes load_from.
stage_from = 'abn_segformer_mit-b0_synthetic.py'
