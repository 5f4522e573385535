# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Data-parallel training with 2 gloo processes (``tools/dist_train.sh``).

(a) Replicas stay identical: after MRNet steps with everything random
    (crops, flips, dropout, BN in train mode, each rank its own images and
    its own seed), the student (BN statistics included), both
    discriminators and all optimizer states are bitwise equal on both
    ranks; likewise the teacher and SAC's class prior in (b). Resuming that
    run on 2 ranks repeats it bitwise (per-rank RNG states).
(b) Equivalence: 2 processes with batch 2 each follow 1 process with batch
    4. The parts of one step - source CE, adversarial terms, discriminator
    updates, memory regularisation, SAC's teacher targets with the class
    prior averaged over ranks, focal loss, EMA teacher - are all composed in
    one model (MR + SAC + adversary). What differs between the two set-ups
    by design is switched off: dropout (0), BN batch statistics (SAC's
    frozen BN statistics), and randomness drawn per process (transforms
    made deterministic; SAC views covering the full image, no photometric
    noise). ``UDAInfiniteSampler`` gives rank r the pairs r::2 of one
    stream, so each step sees the same 4 images, as recorded by
    ``BatchTraceHook``. Only float32 summation order differs; after 3 steps
    every parameter and buffer agrees to ``ATOL`` (discriminator Adam with
    eps 1e-5, see ``ALL_PARTS_OPTIONS``).
"""
import os
import os.path as osp
import shutil
import sys

import pytest
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_runs import (DETERMINISTIC_DATA, LOADERS,  # noqa: E402
                                NO_VAL, dist_train, load,
                                read_trace, train, tree_diff, write_config)

pytestmark = pytest.mark.slow

PROBES = ['BatchTraceHook', 'RankStateDumpHook']
STEPS = ['train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=3',
         'randomness.seed=0', 'randomness.deterministic=True']
# Max abs difference of any parameter or buffer after 3 steps. Measured
# (CPU, torch 2.13): 2.4e-7 (discriminators), 5.2e-8 (student), 1.5e-8
# (teacher), 7.5e-9 (class prior, values ~0.05).
ATOL = 2e-6
PRIOR_ATOL = 1e-7

ALL_PARTS = '''
model = dict(
    adversary=dict(
        type='OutputSpaceAdversary',
        discriminators=dict(
            primary=dict(type='FCDiscriminator', ndf=16),
            aux=dict(type='FCDiscriminator', ndf=16)),
        loss_weights=dict(primary=0.01, aux=0.002),
        gan_loss=dict(type='GANLoss', gan_type='vanilla'),
        disc_loss_weight=0.5))
'''
ALL_PARTS_OPTIONS = [
    'load_from=None',
    'model.segmentor.decode_head.dropout_ratio=0.',
    'model.teacher.interval=1', 'model.self_training.rampup_iters=0',
    'model.self_training.views.num_views=2',
    'model.self_training.views.scale_range=(1.0,1.0)',
    'model.self_training.views.flip_prob=0.',
    'model.self_training.noise.blur_prob=0.',
    'model.self_training.noise.jitter_prob=0.',
    'model.self_training.noise.grey_prob=0.',
    # Adam's first steps are ~ lr * g / (|g| + eps): with the default eps
    # (1e-8) the float rounding noise of the many near-zero discriminator
    # gradients (|g| ~ 1e-9..1e-8, noise ~ 1e-9) is amplified to updates
    # differing by up to ~lr (6e-5 after 3 steps); eps 1e-5 keeps the
    # comparison at the level of the (averaged) gradients themselves.
    'optim_wrapper.discriminator.optimizer.eps=1e-5'
]


@pytest.fixture(scope='module')
def bench(bench_dir):
    return str(bench_dir)


def rank_states(work_dir, world_size=2):
    return [
        torch.load(osp.join(work_dir, f'rank{r}.pth'), weights_only=True)
        for r in range(world_size)
    ]


def assert_replicas_identical(work_dir):
    states = rank_states(work_dir)
    assert states[0]['iter'] == states[1]['iter'] == 3
    for key in ('state_dict', 'optimizer'):
        diff = tree_diff(states[0][key], states[1][key], key)
        assert not diff, f'ranks differ: {sorted(diff.items())[:10]}'
    return states[0]


@pytest.fixture(scope='module')
def mrnet_dist(bench):
    """3 MRNet iterations on 2 ranks with everything random and per-rank
    seeds (``diff_rank_seed``), checkpoints after iterations 2 and 3."""
    cfg = write_config(osp.join(bench, 'mrnet_dist.py'), 'synthetic/mrnet.py',
                       PROBES)
    work_dir = osp.join(bench, 'work', 'mrnet_dist')
    options = LOADERS + NO_VAL + STEPS + [
        'randomness.diff_rank_seed=True', 'model.memory_reg_start_iter=1',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1'
    ]
    out = dist_train(cfg, work_dir, bench, options)
    return dict(cfg=cfg, work_dir=work_dir, options=options, log=out)


def test_mrnet_replicas_stay_identical(mrnet_dist):
    out, work_dir = mrnet_dist['log'], mrnet_dist['work_dir']
    assert 'Distributed training: True' in out
    assert 'tgt.loss_mr' in out
    state = assert_replicas_identical(work_dir)
    sd = state['state_dict']
    assert any(k.startswith('adversary.discriminators.primary') for k in sd)
    assert {'segmentor', 'disc_primary', 'disc_aux'} <= set(
        state['optimizer'])
    # each rank trained on its own images
    traces = [read_trace(work_dir, r) for r in range(2)]
    for it in range(3):
        assert traces[0][it]['source'] != traces[1][it]['source']


def test_distributed_resume_is_exact(bench, mrnet_dist):
    """Resuming on 2 ranks from the iteration-2 checkpoint repeats
    iteration 3 bitwise on both ranks: every rank gets its own RNG states
    back (they differ: per-rank seeds)."""
    full = mrnet_dist['work_dir']
    ckpt2 = load(osp.join(full, 'iter_2.pth'))
    saved = ckpt2['rng_states']
    assert saved['world_size'] == 2 and len(saved['states']) == 2
    assert tree_diff(saved['states'][0], saved['states'][1])
    cut = osp.join(bench, 'work', 'mrnet_dist_resumed')
    os.makedirs(cut)
    shutil.copy(osp.join(full, 'iter_2.pth'), cut)
    with open(osp.join(cut, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(cut, 'iter_2.pth'))
    out = dist_train(mrnet_dist['cfg'], cut, bench, mrnet_dist['options'],
                     resume=True)
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'RNGStateHook:' not in out
    ref, res = (load(osp.join(d, 'iter_3.pth')) for d in (full, cut))
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_states'):
        diff = tree_diff(ref[key], res[key], key)
        assert not diff, f'not bitwise equal: {sorted(diff.items())[:10]}'
    for r in range(2):
        assert read_trace(full, r)[2] == read_trace(cut, r)[2]
        states = [
            torch.load(osp.join(d, f'rank{r}.pth'), weights_only=True)
            for d in (full, cut)
        ]
        assert not tree_diff(states[0], states[1]), f'rank {r}'


def _samples(record):
    return sorted(map(tuple, record['source'])), sorted(
        map(tuple, record['target']))


def test_two_processes_follow_one_process_with_the_global_batch(bench):
    cfg = write_config(
        osp.join(bench, 'all_parts.py'), 'synthetic/mrnet_sac.py', PROBES,
        ALL_PARTS)
    options = LOADERS + NO_VAL + STEPS + DETERMINISTIC_DATA + \
        ALL_PARTS_OPTIONS
    two = osp.join(bench, 'work', 'all_parts_2x2')
    one = osp.join(bench, 'work', 'all_parts_1x4')
    out = dist_train(cfg, two, bench, options)
    assert 'Distributed training: True' in out
    for key in ('tgt.loss_sac', 'tgt.loss_mr', 'tgt.loss_adv_primary',
                'disc_aux.loss'):
        assert key in out, key
    train(cfg, one, bench, options + ['train_dataloader.batch_size=4'])

    # (a) replicas, teacher and class prior included, are identical
    state2 = assert_replicas_identical(two)['state_dict']
    assert int(state2['teacher.steps']) == 4
    prior = 'self_training.pseudo_labeler.class_prior'

    # the same 4 (transformed) images per step
    t1 = read_trace(one)
    t2 = [read_trace(two, r) for r in range(2)]
    for it in range(3):
        assert len(t1[it]['source']) == 4
        merged = dict(
            source=t2[0][it]['source'] + t2[1][it]['source'],
            target=t2[0][it]['target'] + t2[1][it]['target'])
        assert _samples(merged) == _samples(t1[it]), f'iteration {it}'

    # (b) the 2-process run follows the 1-process run
    state1 = torch.load(osp.join(one, 'rank0.pth'),
                        weights_only=True)['state_dict']
    assert set(state1) == set(state2)
    errors = tree_diff(state1, state2)
    bad = {k: e for k, e in errors.items() if e > ATOL}
    assert not bad, f'beyond tolerance: {sorted(bad.items())[:10]}'
    assert (state1[prior] - state2[prior]).abs().max() <= PRIOR_ATOL
    assert int(state2['self_training.pseudo_labeler.num_updates']) == 3
