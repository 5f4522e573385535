# Copyright (c) mmseg_uda contributors. All rights reserved.
"""A killed and resumed run ends exactly where an uninterrupted one does.

For MRNet (memory regularisation switched on after the interruption) and
SAC (teacher updated every 2 iterations, class prior, views): train 6
iterations with a checkpoint and a validation every 3; run the same
training again, SIGKILL it in iteration 4 (after the iteration-3
checkpoint; for SAC, to save a run, start from a copy of that checkpoint),
resume it with ``--resume`` and compare the two iteration-6 checkpoints
*bitwise* (deterministic mode on the CPU): student, teacher,
discriminators, class prior, optimizers, schedulers, RNG states, message-hub
iteration and logged training history, and, through ``BatchTraceHook``,
the images (paths and transformed pixels) of every iteration, i.e. the
sampler position and the random transforms.

MRNet loads data in the main process (``num_workers=0``: transforms draw
from the global numpy generator restored by ``RNGStateHook``), SAC with two
persistent workers (seeded by MMEngine, replaying the skipped batches).
"""
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_probes import STALL_ENV  # noqa: E402
from helpers.train_runs import (LOADERS, PY, ROOT, env,  # noqa: E402
                                last_checkpoint, load, read_trace,
                                train, train_args, tree_diff, write_config)

SCHEDULE = [
    'train_cfg.max_iters=6', 'train_cfg.val_interval=3',
    'default_hooks.checkpoint.interval=3',
    'default_hooks.checkpoint.max_keep_ckpts=-1',
    'randomness.seed=0', 'randomness.deterministic=True'
]
pytestmark = pytest.mark.slow

PROBES = ['BatchTraceHook']


@pytest.fixture(scope='module')
def bench(bench_dir):
    return str(bench_dir)


def train_killed(config, work_dir, cwd, options, stall_at=3,
                 timeout=300) -> None:
    """Start a run, wait until it stalls before iteration ``stall_at`` (so
    the previous checkpoint is complete) and SIGKILL it."""
    proc = subprocess.Popen(
        [PY, osp.join(ROOT, 'tools', 'train.py')] +
        train_args(config, work_dir, options),
        cwd=cwd,
        env=env(**{STALL_ENV: stall_at}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)
    stalled = osp.join(work_dir, 'stalled')
    try:
        deadline = time.time() + timeout
        while not osp.exists(stalled):
            assert proc.poll() is None, proc.stdout.read()[-6000:]
            assert time.time() < deadline, 'the run did not reach the stall'
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def run_pair(bench, config, name, options, kill=True, resume_options=()):
    """An uninterrupted run and an interrupted + resumed one.

    With ``kill`` the second run is SIGKILLed in iteration 4; otherwise it
    starts from a copy of the first run's iteration-3 checkpoint (the same
    file a killed run leaves behind).

    Returns:
        tuple: Final checkpoints, batch traces and the logs of both.
    """
    cfg = write_config(osp.join(bench, f'{name}_probe.py'), config, PROBES)
    full = osp.join(bench, 'work', name, 'full')
    cut = osp.join(bench, 'work', name, 'cut')
    out_full = train(cfg, full, bench, options)
    if kill:
        train_killed(cfg, cut, bench, options)
        assert last_checkpoint(cut).endswith('iter_3.pth')
        assert not osp.exists(osp.join(cut, 'iter_6.pth'))
    else:
        os.makedirs(cut)
        shutil.copy(osp.join(full, 'iter_3.pth'), cut)
        with open(osp.join(cut, 'last_checkpoint'), 'w') as f:
            f.write(osp.join(cut, 'iter_3.pth'))
        with open(osp.join(full, 'batch_trace_rank0.jsonl')) as f:
            head = f.readlines()[:3]
        with open(osp.join(cut, 'batch_trace_rank0.jsonl'), 'w') as f:
            f.writelines(head)
    out = train(cfg, cut, bench, list(options) + list(resume_options),
                resume=True)
    assert 'resumed epoch: 0, iter: 3' in out
    assert 'Advance dataloader 3 steps' in out
    assert 'RNGStateHook:' not in out  # no warning
    return dict(
        ref=load(osp.join(full, 'iter_6.pth')),
        res=load(osp.join(cut, 'iter_6.pth')),
        trace_ref=read_trace(full),
        trace_res=read_trace(cut),
        log=out_full,
        ckpt3=osp.join(full, 'iter_3.pth'))


def assert_identical(ref, res):
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_states'):
        assert key in ref and key in res, key
        diff = tree_diff(ref[key], res[key], key)
        assert not diff, f'not bitwise equal: {sorted(diff.items())[:10]}'
    assert ref['meta']['iter'] == res['meta']['iter'] == 6
    hub_ref, hub_res = ref['message_hub'], res['message_hub']
    assert hub_ref['runtime_info']['iter'] == \
        hub_res['runtime_info']['iter'] == 5
    # the logged training history continues seamlessly (validation results
    # of iteration 3 came after the checkpoint the resumed run started from)
    train_keys = [
        k for k in hub_ref['log_scalars'] if k.startswith('train/')
        and k not in ('train/time', 'train/data_time')
    ]
    assert 'train/loss' in train_keys
    for k in train_keys:
        assert (hub_ref['log_scalars'][k].data[0] ==
                hub_res['log_scalars'][k].data[0]).all(), k


def assert_same_batches(trace_ref, trace_res):
    assert sorted(trace_ref) == sorted(trace_res) == list(range(6))
    for it in range(6):
        assert trace_ref[it] == trace_res[it], f'iteration {it}'


@pytest.fixture(scope='module')
def mrnet(bench):
    return run_pair(bench, 'synthetic/mrnet.py', 'mrnet',
                    LOADERS + SCHEDULE + ['model.memory_reg_start_iter=4'])


def test_mrnet_resume_after_kill_is_exact(mrnet):
    assert 'tgt.loss_mr' in mrnet['log']  # switched on after the cut
    res = mrnet['res']
    assert any(
        k.startswith('adversary.discriminators.aux')
        for k in res['state_dict'])
    assert {'segmentor', 'disc_primary', 'disc_aux'} <= set(res['optimizer'])
    assert_identical(mrnet['ref'], res)
    assert_same_batches(mrnet['trace_ref'], mrnet['trace_res'])
    # the random transforms did act: crops of one image differ over epochs
    crops = {}
    for record in mrnet['trace_ref'].values():
        for path, digest in record['source']:
            crops.setdefault(path, set()).add(digest)
    assert any(len(d) > 1 for d in crops.values())


def test_checkpoint_rng_states_load_safely(mrnet):
    states = mrnet['res']['rng_states']  # loaded with weights_only=True
    assert states['world_size'] == 1 and len(states['states']) == 1
    state = states['states'][0]
    assert set(state) >= {'python', 'numpy', 'torch'}
    assert state['numpy']['key'].shape == (624, )


def test_sac_resume_with_workers_is_exact(bench, mrnet):
    # SAC fine-tunes from `load_from` (the ABN model in the paper pipeline;
    # here the MRNet iteration-3 checkpoint, the same student). Data come
    # from two persistent workers.
    options = LOADERS + SCHEDULE + [
        f'load_from={mrnet["ckpt3"]}', 'model.teacher.interval=2',
        'model.self_training.views.num_views=2',
        'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True'
    ]
    # tools/train.py hands --resume to MMEngine as `resume=True`, which
    # resumes from `load_from` when that is set (the initialisation
    # checkpoint); clear it so that the latest checkpoint of work_dir is
    # used (see mmseg_uda.utils.resume.resolve_resume).
    run = run_pair(bench, 'synthetic/sac.py', 'sac', options, kill=False,
                   resume_options=['load_from=None'])
    assert 'tgt.loss_sac' in run['log']
    sd = run['res']['state_dict']
    assert int(sd['self_training.pseudo_labeler.num_updates']) == 6
    assert 'self_training.pseudo_labeler.class_prior' in sd
    assert int(sd['teacher.steps']) == 7  # initial copy + 6 iterations
    assert any(k.startswith('teacher.module.') for k in sd)
    assert_identical(run['ref'], run['res'])
    assert_same_batches(run['trace_ref'], run['trace_res'])
