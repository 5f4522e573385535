# The default hooks of every schedule, in one place: each schedule base
# inherits this file and sets only its intervals (logger, checkpoint).
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
