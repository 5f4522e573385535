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
