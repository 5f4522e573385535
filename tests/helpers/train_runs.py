# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Running tools/train.py (single process or through tools/dist_train.sh) on
a tiny synthetic benchmark, and comparing what the runs produced.

Shared by ``tests/test_exact_resume.py`` and ``tests/test_distributed.py``.
Every run is a subprocess with one BLAS/OpenMP thread (the machine is a
shared 2-core CPU) whose working directory holds ``data/synthetic``, so the
configs' relative data roots resolve as for a user.
"""
import atexit
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY = sys.executable

# small loaders in the main process, a log line per iteration
LOADERS = [
    # the adaptation configs start from a converged start's checkpoint by
    # default; tests start from random weights unless they pass load_from
    'load_from=None',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1'
]
# two iterations, validated and checkpointed at the second
TWO_ITERS = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
             'default_hooks.checkpoint.interval=2']
# Transforms without randomness (the synthetic 512x256 images are resized to
# exactly the 256x128 crop size; no flips), for comparisons between runs
# whose processes draw different random numbers.
DETERMINISTIC_DATA = [
    'train_dataloader.dataset.source.pipeline.2.scale=(192,96)',  # = crop
    'train_dataloader.dataset.source.pipeline.4.prob=0.',
    'train_dataloader.dataset.target.pipeline.2.prob=0.'
]
NO_VAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']


def env(**extra) -> dict:
    """Environment of a training subprocess: one thread, no GPU (the
    configs' expectations, e.g. the CPU gloo backend and the CPU timings,
    hold on a GPU machine too), test hooks importable as
    ``helpers.train_probes``."""
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
             CUDA_VISIBLE_DEVICES='')
    e['PYTHONPATH'] = os.pathsep.join(
        [osp.join(ROOT, 'tests'), ROOT] +
        ([e['PYTHONPATH']] if e.get('PYTHONPATH') else []))
    e.update({k: str(v) for k, v in extra.items()})
    return e


def run(args: Sequence[str], cwd: str, timeout: int = 600, **env_extra) -> str:
    proc = subprocess.run(
        list(args),
        cwd=cwd,
        env=env(**env_extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def run_python(args: Sequence[str], cwd: str, timeout: int = 600,
               **env_extra) -> str:
    """:func:`run` of ``python ARGS`` (a tool and its options)."""
    return run([PY] + list(args), cwd, timeout, **env_extra)


_GENERATED: Dict[str, str] = {}


def make_bench(root: str) -> str:
    """``root`` as a working directory with a synthetic benchmark of 4
    source, 4 target and 2 val images in ``data/synthetic``.

    ``tools/make_synthetic.py`` runs once per test process; every call gets
    its own copy (tests may damage their images), which costs a fraction
    of a new generation.
    """
    if 'data' not in _GENERATED:
        cache = tempfile.mkdtemp(prefix='mmseg_uda_bench_')
        atexit.register(shutil.rmtree, cache, True)
        run([
            PY,
            osp.join(ROOT, 'tools', 'make_synthetic.py'), '--out',
            osp.join(cache, 'synthetic'), '--num-source', '4',
            '--num-target-train', '4', '--num-val', '2', '--size',
            '256x128', '--quiet'
        ], cwd=cache)
        _GENERATED['data'] = osp.join(cache, 'synthetic')
    shutil.copytree(_GENERATED['data'], osp.join(root, 'data', 'synthetic'))
    return root


def write_config(path: str,
                 base: str,
                 hooks: Sequence[str],
                 extra: str = '') -> str:
    """A config inheriting ``configs/<base>`` with the test probe hooks
    (``custom_hooks`` of the base, e.g. ``EMATeacherHook``, are kept) and
    the config text ``extra``."""
    from mmengine.config import Config
    base_path = osp.join(ROOT, 'configs', base)
    kept = [h for h in Config.fromfile(base_path).get('custom_hooks', [])]
    custom_hooks = [dict(h) for h in kept] + [dict(type=h) for h in hooks]
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base_path!r}]\n'
                'custom_imports = dict(\n'
                "    imports=['mmseg_uda', 'helpers.train_probes'],\n"
                '    allow_failed_imports=False)\n'
                f'custom_hooks = {custom_hooks!r}\n' + extra)
    return path


def train_args(config: str, work_dir: str, options: Sequence[str],
               resume: bool = False) -> List[str]:
    args = [config, '--work-dir', str(work_dir)]
    if resume:
        args.append('--resume')
    return args + ['--cfg-options'] + list(options)


def train(config: str, work_dir: str, cwd: str, options: Sequence[str],
          resume: bool = False, **env_extra) -> str:
    """``python tools/train.py`` in one process."""
    return run([PY, osp.join(ROOT, 'tools', 'train.py')] +
               train_args(config, work_dir, options, resume), cwd,
               **env_extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(config: str,
               work_dir: str,
               cwd: str,
               options: Sequence[str],
               nproc: int = 2,
               resume: bool = False) -> str:
    """``bash tools/dist_train.sh CONFIG nproc`` (gloo on the CPU)."""
    return run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh')] +
               [config, str(nproc)] +
               train_args(config, work_dir, options, resume)[1:],
               cwd,
               PYTHON=PY,
               PORT=free_port())


def last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def load(path: str) -> dict:
    """A checkpoint, loaded the safe way (``weights_only=True``)."""
    import mmseg_uda  # noqa: F401  (allow-list of MMEngine's globals)
    return torch.load(path, map_location='cpu', weights_only=True)


def read_trace(work_dir: str, rank: int = 0) -> Dict[int, dict]:
    """Batch trace of :class:`BatchTraceHook` by iteration (a resumed run's
    records replace those of the interrupted one)."""
    out = {}
    with open(osp.join(work_dir, f'batch_trace_rank{rank}.jsonl')) as f:
        for line in f:
            record = json.loads(line)
            out[record['iter']] = record
    return out


def tree_diff(a, b, path: str = '') -> Dict[str, float]:
    """Differences between two nested checkpoint structures.

    Returns:
        dict: ``path -> max abs difference`` of every tensor that is not
        bitwise equal (``inf`` for a shape, dtype or structure mismatch, or
        unequal non-tensor leaves).
    """
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) \
                or a.shape != b.shape or a.dtype != b.dtype:
            return {path: float('inf')}
        if torch.equal(a, b):
            return {}
        if a.is_floating_point():
            return {path: (a.double() - b.double()).abs().max().item()}
        return {path: float('inf')}
    if isinstance(a, dict) and isinstance(b, dict):
        out = {}
        for k in set(a) | set(b):
            if k not in a or k not in b:
                out[f'{path}.{k}'] = float('inf')
            else:
                out.update(tree_diff(a[k], b[k], f'{path}.{k}'))
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return {path: float('inf')}
        out = {}
        for i, (x, y) in enumerate(zip(a, b)):
            out.update(tree_diff(x, y, f'{path}[{i}]'))
        return out
    if a != b and not (a != a and b != b):  # NaN == NaN here
        return {path: float('inf')}
    return {}
