# Schedule of the embedded synthetic benchmark: the small model from scratch,
# minutes on a 2-core CPU (500 iterations of batch 2 per domain: about a
# minute for source-only on one core, 3 for MRNet, 5 for SAC). Same
# structure as the paper schedules. Target val mIoU every 100 iterations
# (the curves of docs/results).
max_iters = 500
optim_wrapper = dict(
    constructor='UDAOptimWrapperConstructor',
    segmentor=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
        clip_grad=None,
        paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)})),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    # class counts and the target part checked before the first step
    uda_check=dict(type='UDADatasetCheckHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
    # at each validation: the momentum teacher's metrics (teacher.mIoU; only
    # models with a teacher) and label-free signals on target train images
    teacher_eval=dict(type='TeacherEvalHook'),
    label_free_signals=dict(type='LabelFreeSignalsHook', num_images=8),
    # global RNG states in checkpoints: --resume repeats the run exactly
    rng_state=dict(type='RNGStateHook'))
