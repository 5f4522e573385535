# Copyright (c) mmseg_uda contributors. All rights reserved.
"""A kill or a full disk while a checkpoint is written loses nothing.

End to end: a real ``tools/train.py`` run (synthetic source-only, 6
iterations, a checkpoint every 3, ``max_keep_ckpts=1`` as in the synthetic
schedule) is SIGKILLed while ``iter_6.pth`` is written (half the bytes on
disk) and before any byte of it is written (after MMEngine's own hook has
deleted ``iter_3.pth``), or its write fails with ``OSError(EFBIG)``; each
time ``--resume`` then continues from iteration 3 and ends with a complete
``iter_6.pth``. Unit level: ``--resume`` skips a ``last_checkpoint`` that
is garbage, empty, names a missing, truncated, non-checkpoint or
code-payload file, and says what it skipped.
"""
import logging
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_probes import FAULT_ENV  # noqa: E402
from helpers.train_runs import (LOADERS, NO_VAL, PY, ROOT, env,  # noqa: E402
                                last_checkpoint, load, make_bench, train_args,
                                write_config)

import mmseg_uda.utils.resume as resume_module  # noqa: E402
from mmseg_uda.utils.resume import resolve_resume  # noqa: E402

SCHEDULE = [
    'train_cfg.max_iters=6', 'default_hooks.checkpoint.interval=3',
    'default_hooks.checkpoint.max_keep_ckpts=1', 'randomness.seed=0'
]
OPTIONS = LOADERS + NO_VAL + SCHEDULE


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = make_bench(str(tmp_path_factory.mktemp('atomic_bench')))
    cfg = write_config(
        osp.join(root, 'probe.py'), 'synthetic/source_only.py',
        ['CheckpointFaultHook'])
    return root, cfg


def _start(cfg, work_dir, cwd, fault, resume=False):
    extra = {FAULT_ENV: fault} if fault else {}
    return subprocess.Popen(
        [PY, osp.join(ROOT, 'tools', 'train.py')] +
        train_args(cfg, work_dir, OPTIONS, resume),
        cwd=cwd,
        env=env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)


def _kill_at_stall(proc, work_dir, timeout=400):
    stalled = osp.join(work_dir, 'stalled')
    try:
        deadline = time.time() + timeout
        while not osp.exists(stalled):
            assert proc.poll() is None, proc.stdout.read()[-6000:]
            assert time.time() < deadline, 'the run did not reach the fault'
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _resume_ends_at_6(cfg, work_dir, cwd):
    proc = _start(cfg, work_dir, cwd, None, resume=True)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-6000:]
    assert 'resumed epoch: 0, iter: 3' in out, out[-4000:]
    final = osp.join(work_dir, 'iter_6.pth')
    assert last_checkpoint(work_dir) == final
    ckpt = load(final)
    assert ckpt['meta']['iter'] == 6
    assert ckpt['message_hub']['runtime_info']['iter'] == 5
    # max_keep_ckpts=1 honoured once the new checkpoint is complete
    assert not osp.exists(osp.join(work_dir, 'iter_3.pth'))
    assert not [n for n in os.listdir(work_dir) if n.endswith('.tmp')]
    return out


def _assert_iter3_intact(work_dir):
    assert last_checkpoint(work_dir) == osp.join(work_dir, 'iter_3.pth')
    assert load(osp.join(work_dir, 'iter_3.pth'))['meta']['iter'] == 3


@pytest.mark.slow
@pytest.mark.parametrize('moment', ['before', 'during'])
def test_kill_while_checkpoint_is_written(bench, moment):
    root, cfg = bench
    work_dir = osp.join(root, 'work', f'kill_{moment}')
    proc = _start(cfg, work_dir, root, f'{moment}:iter_6.pth')
    _kill_at_stall(proc, work_dir)
    _assert_iter3_intact(work_dir)
    assert not osp.exists(osp.join(work_dir, 'iter_6.pth'))
    os.remove(osp.join(work_dir, 'stalled'))
    _resume_ends_at_6(cfg, work_dir, root)


@pytest.mark.slow
def test_full_disk_keeps_previous_checkpoint(bench):
    root, cfg = bench
    work_dir = osp.join(root, 'work', 'disk_full')
    proc = _start(cfg, work_dir, root, 'disk_full:iter_6.pth')
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert 'File too large' in out
    assert 'iter_6.pth' in out  # the error names the file
    _assert_iter3_intact(work_dir)
    assert not [n for n in os.listdir(work_dir) if 'iter_6' in n]
    _resume_ends_at_6(cfg, work_dir, root)


# --- --resume with a damaged work dir (in process) -------------------------


def _checkpoint(path, it):
    torch.save(
        dict(meta=dict(iter=it), state_dict={'w': torch.ones(2) * it}),
        path)


class _Payload:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _damage(work_dir, kind):
    """Write ``last_checkpoint`` of the given kind; returns the expected
    substring of the warning."""
    record = osp.join(work_dir, 'last_checkpoint')
    target = osp.join(work_dir, 'iter_9.pth')
    if kind == 'binary':
        data, why = b'\xff\xfe\x00garbage\x81', 'not a text file'
    elif kind == 'empty':
        data, why = b'', 'empty'
    elif kind == 'missing':
        data, why = target.encode(), 'no such file'
    elif kind == 'truncated':
        _checkpoint(target, 9)
        with open(target, 'rb') as f:
            head = f.read()
        with open(target, 'wb') as f:
            f.write(head[:len(head) // 2])
        data, why = target.encode(), 'iter_9.pth'
    elif kind == 'zero_bytes':
        open(target, 'wb').close()
        data, why = target.encode(), 'empty file'
    elif kind == 'config':
        target = osp.join(work_dir, 'cfg.py')
        with open(target, 'w') as f:
            f.write('a = 1\n')
        data, why = target.encode(), 'cfg.py'
    elif kind == 'weights_only_dict':
        torch.save({'w': torch.ones(1)}, target)
        data, why = target.encode(), 'not an MMEngine training checkpoint'
    else:  # payload
        torch.save({'meta': _Payload(osp.join(work_dir, 'pwned')),
                    'state_dict': {}}, target)
        data, why = target.encode(), 'iter_9.pth'
    with open(record, 'wb') as f:
        f.write(data)
    return why


@pytest.mark.parametrize('kind', [
    'binary', 'empty', 'missing', 'truncated', 'zero_bytes', 'config',
    'weights_only_dict', 'payload'
])
def test_resume_falls_back_to_newest_loadable(tmp_path, kind, monkeypatch):
    work_dir = str(tmp_path)
    _checkpoint(osp.join(work_dir, 'iter_3.pth'), 3)
    _checkpoint(osp.join(work_dir, 'iter_6.pth'), 6)
    with open(osp.join(work_dir, 'iter_12.pth'), 'wb') as f:
        f.write(b'PK\x03\x04 truncated')  # newest by name, unloadable
    why = _damage(work_dir, kind)
    cfg = Config(dict(work_dir=work_dir, load_from='init.pth'))
    warnings = []
    monkeypatch.setattr(
        resume_module, 'print_log', lambda msg, **kw: warnings.append(
            msg) if kw.get('level') == logging.WARNING else None)
    resolve_resume(cfg, 'auto')
    log = '\n'.join(warnings)
    assert cfg.resume is True
    assert cfg.load_from == osp.join(work_dir, 'iter_6.pth')
    assert why in log
    assert 'iter_12.pth' in log  # skipped, and said so
    assert not osp.exists(osp.join(work_dir, 'pwned'))


def test_resume_trusts_a_valid_last_checkpoint(tmp_path):
    work_dir = str(tmp_path)
    _checkpoint(osp.join(work_dir, 'iter_3.pth'), 3)
    _checkpoint(osp.join(work_dir, 'iter_6.pth'), 6)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'iter_3.pth'))
    cfg = resolve_resume(Config(dict(work_dir=work_dir)), 'auto')
    assert cfg.load_from == osp.join(work_dir, 'iter_3.pth')


def test_resume_without_any_loadable_checkpoint_starts_anew(tmp_path):
    work_dir = str(tmp_path)
    open(osp.join(work_dir, 'iter_3.pth'), 'wb').close()
    cfg = resolve_resume(
        Config(dict(work_dir=work_dir, load_from='init.pth')), 'auto')
    assert cfg.resume is False and cfg.load_from == 'init.pth'


def test_every_config_uses_the_atomic_hook():
    configs = []
    for dirpath, _, names in os.walk(osp.join(ROOT, 'configs')):
        if {'_base_', 'benchmarks'} & set(dirpath.split(os.sep)):
            continue
        configs += [osp.join(dirpath, n) for n in names if n.endswith('.py')]
    assert len(configs) > 30
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook', \
            path
