# Copyright (c) mmseg_uda contributors. All rights reserved.
"""A frozen rank ends the job after ``env_cfg.dist_cfg.timeout``.

Two gloo CPU ranks through ``tools/dist_train.sh``; rank 1 stops itself
(``SIGSTOP``, as a hung process) before iteration 2. Rank 0 must fail in
its next collective after the configured timeout (here 40 s, instead of
torch's default 30 minutes) with an error whose traceback names the
collective, and ``torchrun`` then ends the job (it gives the stopped rank
30 s to exit after SIGTERM, then SIGKILLs it).
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_runs import (LOADERS, NO_VAL, PY, ROOT, env,  # noqa: E402
                                free_port, make_bench, train_args,
                                write_config)

TIMEOUT = 40  # also bounds process-group start-up: keep it robust on a loaded machine
# torchrun's grace period for the stopped rank, plus slack for a loaded CPU
MARGIN = 30 + 45


def _end(proc, work_dir):
    """SIGKILL what is left of the job: the launcher's process group and
    the ranks (in sessions of their own) by their recorded ids."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    for rank in (0, 1):
        path = osp.join(work_dir, f'pid_rank{rank}')
        if osp.exists(path):
            with open(path) as f:
                pid = int(f.read())
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    ours = work_dir.encode() in f.read()
                if ours:
                    os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass
    if proc.stdout is not None and not proc.stdout.closed:
        proc.communicate(timeout=60)


@pytest.mark.slow
def test_frozen_rank_fails_the_job_after_the_timeout(tmp_path):
    root = make_bench(str(tmp_path))
    cfg = write_config(
        osp.join(root, 'probe.py'), 'synthetic/source_only.py',
        ['FreezeRankHook'])
    work_dir = osp.join(root, 'work')
    options = LOADERS + NO_VAL + [
        'train_cfg.max_iters=6', f'env_cfg.dist_cfg.timeout={TIMEOUT}'
    ]
    args = train_args(cfg, work_dir, options)
    proc = subprocess.Popen(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), args[0], '2'] +
        args[1:],
        cwd=root,
        env=env(UDA_TEST_FREEZE='1:2', PYTHON=PY, PORT=free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True)
    frozen = osp.join(work_dir, 'frozen')
    try:
        deadline = time.time() + 300
        while not osp.exists(frozen):
            assert proc.poll() is None, proc.communicate()[0][-6000:]
            assert time.time() < deadline, 'rank 1 never froze'
            time.sleep(0.2)
        t_frozen = time.time()
        out, _ = proc.communicate(timeout=TIMEOUT + MARGIN)
        elapsed = time.time() - t_frozen
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f'the job still runs {TIMEOUT + MARGIN} s after rank 1 froze: '
            'dist_cfg.timeout is not applied')
    finally:
        _end(proc, work_dir)
    assert proc.returncode != 0
    assert TIMEOUT - 1 <= elapsed <= TIMEOUT + MARGIN, elapsed
    assert f'Timed out waiting {TIMEOUT * 1000}ms' in out, out[-6000:]
    assert 'in all_reduce' in out or 'in broadcast' in out, out[-6000:]
