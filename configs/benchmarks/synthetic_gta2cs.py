# Benchmark manifest (read by tools/run_benchmark.py, not a training config):
# the GTA-format -> Cityscapes-format synthetic benchmark.
#
# Protocol, per seed (the seed sets randomness.seed of every run, so the same
# seed gives every method the same start and data order):
# 1. Starts, trained once and shared: source-only and ABN (SAC's
#    pre-training, as in the paper) for the start schedule (800 iterations,
#    poly from lr 0.01; configs/_base_/schedules/synthetic.py). The oracle
#    (target labels) trains 1600 iterations from scratch.
# 2. Adaptation: every method trains the same 400 iterations from a start
#    (configs/_base_/schedules/synthetic_adapt.py); two-stage methods split
#    them (MRNet: 200 stage I + 200 stage II). The baselines are the starts
#    continued for the same 400 iterations with the same schedule.
# 3. Tables: mean ± std over seeds; gap closed between `baseline` and
#    `oracle`; paired per-seed differences to the baseline and to each
#    method's ablation partner (`pairs`).
#
# A run: `name`, `config` (relative to `config_root`), optional `init` (the
# run whose last checkpoint becomes load_from), `pseudo_labels` (arguments of
# tools/gen_pseudo_labels.py run on `init`'s checkpoint first; the folder
# becomes train_dataloader.dataset.pseudo_label_dir), `cfg_options`, and
# `row=False` for runs that are only a start.
config_root = '../synthetic'
runs = [
    dict(name='oracle', config='oracle.py'),
    dict(name='source_start', config='source_only.py', row=False),
    dict(name='abn_start', config='abn.py', row=False),
    dict(name='source_only', config='source_only.py', init='source_start',
         cfg_options=[
             # the start continued with the adaptation schedule
             'train_cfg.max_iters=400', 'train_cfg.val_interval=100',
             'param_scheduler.0.end=400',
             'default_hooks.checkpoint.interval=400',
             'optim_wrapper.segmentor.optimizer.lr=0.0025'
         ]),
    dict(name='adaptsegnet', config='adaptsegnet.py', init='source_start'),
    dict(name='mrnet', config='mrnet.py', init='source_start'),
    dict(name='mrnet_stage1_half', config='mrnet.py', init='source_start',
         row=False,
         cfg_options=[
             'train_cfg.max_iters=200', 'param_scheduler.0.end=200',
             'default_hooks.checkpoint.interval=200',
             'model.memory_reg_start_iter=80'
         ]),
    dict(name='mrnet_stage2', config='mrnet_stage2.py',
         init='mrnet_stage1_half', pseudo_labels=['--tta'],
         cfg_options=[
             'train_cfg.max_iters=200', 'param_scheduler.0.end=200',
             'default_hooks.checkpoint.interval=200'
         ]),
    dict(name='abn', config='abn.py', init='abn_start',
         cfg_options=[
             'train_cfg.max_iters=400', 'train_cfg.val_interval=100',
             'param_scheduler.0.end=400',
             'default_hooks.checkpoint.interval=400',
             'optim_wrapper.segmentor.optimizer.lr=0.0025'
         ]),
    dict(name='sac', config='sac.py', init='abn_start'),
    dict(name='mrnet_sac', config='mrnet_sac.py', init='abn_start'),
]
baseline = 'source_only'
oracle = 'oracle'
# (method, ablation partner): the paired differences the papers' ablations
# make (MRNet Table 3-4: AdaptSegNet -> stage I -> stage II; SAC: ABN -> SAC)
pairs = [('adaptsegnet', 'source_only'), ('mrnet', 'adaptsegnet'),
         ('mrnet_stage2', 'mrnet'), ('abn', 'source_only'), ('sac', 'abn'),
         ('mrnet_sac', 'sac')]
