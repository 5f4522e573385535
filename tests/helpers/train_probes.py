# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Test-only hooks that let end-to-end training tests look inside a run.

Imported by the test configs of ``tests/test_exact_resume.py`` and
``tests/test_distributed.py`` through ``custom_imports`` (with ``tests`` on
``PYTHONPATH``); not part of the library.

- :class:`BatchTraceHook` appends one JSON line per training iteration and
  rank to ``work_dir/batch_trace_rank{r}.jsonl``: the iteration, and per
  sample the image paths and a SHA-1 of the transformed uint8 images (so the
  sampler position *and* the random transforms are compared). With the
  environment variable ``UDA_TEST_STALL_AT_ITER=k`` the process writes
  ``work_dir/stalled`` and sleeps before iteration ``k`` (0-based) so a test
  can kill it there, after the preceding checkpoint was written.
- With ``UDA_TEST_CKPT_FAULT=MODE:NAME`` the write of the checkpoint file
  ``NAME`` (e.g. ``iter_6.pth``) fails: ``before`` writes
  ``work_dir/stalled`` and sleeps in ``before_save_checkpoint`` (after
  MMEngine deleted the checkpoints beyond ``max_keep_ckpts``, before any
  byte is written; needs :class:`CheckpointFaultHook`), ``during`` writes
  half of the bytes, then ``stalled``, and sleeps, ``disk_full`` writes
  half of the bytes and raises ``OSError(EFBIG)``. The write is intercepted
  in MMEngine's ``LocalBackend.put``, which ``save_checkpoint`` uses, and
  matches the final name or a temporary name containing it.
- :class:`FreezeRankHook`: with ``UDA_TEST_FREEZE=RANK:ITER`` that rank
  writes ``work_dir/frozen`` and stops itself (``SIGSTOP``) before
  iteration ``ITER``, as a hung process.
- :class:`RankStateDumpHook` saves every rank's model and optimizer state
  to ``work_dir/rank{r}.pth`` after training (checkpoints are written by
  rank 0 only).
"""
import hashlib
import json
import os
import os.path as osp
import time

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

STALL_ENV = 'UDA_TEST_STALL_AT_ITER'
FAULT_ENV = 'UDA_TEST_CKPT_FAULT'


def _stall(work_dir: str) -> None:
    with open(osp.join(work_dir, 'stalled'), 'w') as f:
        f.write('stalled')
    time.sleep(3600)  # the test kills the process here


def _fault() -> tuple:
    mode, _, name = os.environ.get(FAULT_ENV, '').partition(':')
    return mode, name


def _install_write_fault() -> None:
    """Patch ``LocalBackend.put`` for the ``during``/``disk_full`` modes."""
    import errno

    from mmengine.fileio.backends.local_backend import LocalBackend
    mode, name = _fault()
    if mode not in ('during', 'disk_full'):
        return
    put = LocalBackend.put

    def faulty_put(self, obj, filepath):
        if name not in osp.basename(str(filepath)):
            return put(self, obj, filepath)
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            if mode == 'disk_full':
                raise OSError(errno.EFBIG, 'File too large')
            _stall(osp.dirname(str(filepath)))

    LocalBackend.put = faulty_put


_install_write_fault()


def _digest(img) -> str:
    return hashlib.sha1(img.contiguous().numpy().tobytes()).hexdigest()[:16]


def _samples(inputs, data_samples):
    return [[s.metainfo.get('img_path'), _digest(img)]
            for img, s in zip(inputs, data_samples)]


@HOOKS.register_module()
class BatchTraceHook(Hook):
    """Record what every training iteration was fed (see module doc)."""

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        record = dict(
            iter=runner.iter,
            source=_samples(data_batch['inputs'], data_batch['data_samples']))
        if 'target_inputs' in data_batch:
            record['target'] = _samples(data_batch['target_inputs'],
                                        data_batch['target_data_samples'])
        path = osp.join(runner.work_dir,
                        f'batch_trace_rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')
        stall = os.environ.get(STALL_ENV)
        if stall is not None and runner.iter == int(stall):
            with open(osp.join(runner.work_dir, 'stalled'), 'w') as f:
                f.write(str(runner.iter))
            time.sleep(3600)  # the test kills the process here


@HOOKS.register_module()
class CheckpointFaultHook(Hook):
    """Stall before checkpoint ``NAME`` is written (``before`` mode)."""

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        mode, name = _fault()
        step = checkpoint['meta'].get('iter')
        if mode == 'before' and name == f'iter_{step}.pth':
            _stall(runner.work_dir)


@HOOKS.register_module()
class FreezeRankHook(Hook):
    """Freeze one rank (see module doc); every rank writes its process id
    to ``work_dir/pid_rank{r}`` (torchrun starts the ranks in sessions of
    their own, so a test must end them by id)."""

    def before_train(self, runner) -> None:
        with open(osp.join(runner.work_dir, f'pid_rank{get_rank()}'),
                  'w') as f:
            f.write(str(os.getpid()))

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        rank, _, it = os.environ.get('UDA_TEST_FREEZE', '').partition(':')
        if rank and get_rank() == int(rank) and runner.iter == int(it):
            import signal
            with open(osp.join(runner.work_dir, 'frozen'), 'w') as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGSTOP)


@HOOKS.register_module()
class RankStateDumpHook(Hook):
    """Save this rank's model and optimizer state after training."""

    def after_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        torch.save(
            dict(
                state_dict={
                    k: v.detach().cpu().clone()
                    for k, v in model.state_dict().items()
                },
                optimizer=runner.optim_wrapper.state_dict(),
                iter=runner.iter),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
