# SAC adaptation schedule (Araslanov & Roth, CVPR 2021, Sec. 4): SGD with a
# constant learning rate of 2.5e-4, momentum 0.9, weight decay 5e-4; the
# newly initialised ASPP classifier (decode_head) trains at 10x the lr.
# Release only, not used here: 2x lr and no weight decay for biases.
# The paper gives no iteration count; 100k iterations (teacher update
# every 100 of them) are used here. Change it with
#   --cfg-options train_cfg.max_iters=N param_scheduler.0.end=N
# The ABN pre-training configs reuse this schedule (the paper describes
# its optimiser only for the adaptation stage).
# The `discriminator` entry (Adam, AdaptSegNet's) only serves configs that
# add an adversary; UDAOptimWrapperConstructor ignores it otherwise.
max_iters = 100000
optim_wrapper = dict(
    constructor='UDAOptimWrapperConstructor',
    segmentor=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9,
                       weight_decay=5e-4),
        clip_grad=None,
        paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)})),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    # class counts and the target part checked before the first step
    uda_check=dict(type='UDADatasetCheckHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes: a kill or a full disk keeps the last complete checkpoint
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=5000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
    # at each validation: the momentum teacher's metrics (teacher.mIoU; only
    # models with a teacher) and label-free signals on target train images
    teacher_eval=dict(type='TeacherEvalHook'),
    label_free_signals=dict(type='LabelFreeSignalsHook', num_images=8),
    # global RNG states in checkpoints: --resume repeats the run exactly
    rng_state=dict(type='RNGStateHook'),
    # the run's randomness.seed to the model's own generators (SAC views)
    run_seed=dict(type='RunSeedHook'))
