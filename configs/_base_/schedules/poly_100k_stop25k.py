# MRNet paper schedule: SGD lr 2e-4, momentum 0.9, wd 5e-4, poly power 0.9
# over 100k iterations, training stopped early at 25k; heads train at 10x the
# backbone lr. Discriminators (when a method adds them) use Adam lr 1e-4,
# betas (0.9, 0.99) with the same poly decay (the list of schedulers below
# applies to every optimizer wrapper).
_base_ = ['../default_hooks.py']
optim_wrapper = dict(
    constructor='UDAOptimWrapperConstructor',
    segmentor=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=2e-4, momentum=0.9, weight_decay=5e-4),
        clip_grad=None,
        paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)})),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=100000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=25000, val_interval=2500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=2500))
