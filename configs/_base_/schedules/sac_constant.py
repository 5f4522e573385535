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
_base_ = ['../default_hooks.py']
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
