# Schedule of the embedded synthetic benchmark's starts: the small model from
# scratch (no ImageNet weights can be downloaded), SGD with a poly decay to 0
# over 800 iterations of batch 2 per domain, so that the source-only and ABN
# models every adaptation method starts from are trained to their plateau
# (docs/results: their curves). Target val mIoU every 200 iterations.
# The adaptation methods continue from those starts with
# ./synthetic_adapt.py.
_base_ = ['../default_hooks.py']
max_iters = 800
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
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
