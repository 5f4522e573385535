"""Every synthetic config trains a few iterations through tools/train.py.

The session's small synthetic benchmark (see ``conftest.synthetic_data``)
is linked into a temporary working directory, so the configs' relative
``data/synthetic/...`` roots resolve exactly as for a user. Subprocesses
run on the CPU (``conftest.cpu_env``).
"""
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
from conftest import cpu_env
from helpers.val_log import check_val_metrics

pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PY = sys.executable

FAST = [
    # adaptation configs load a start checkpoint by default; not here
    'load_from=None',
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2'
]


def _run(args, cwd):
    proc = subprocess.run([PY] + args,
                          cwd=cwd,
                          env=cpu_env(),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def train(config, work_dir, cwd, *extra, resume=False):
    args = [
        osp.join(ROOT, 'tools', 'train.py'),
        osp.join(ROOT, 'configs', 'synthetic', config), '--work-dir',
        str(work_dir)
    ]
    if resume:
        args.append('--resume')
    args += ['--cfg-options'] + FAST + list(extra)
    return _run(args, cwd)


@pytest.fixture(scope='module')
def bench(bench_dir):
    return bench_dir


def _last_ckpt(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.mark.parametrize('config', [
    'source_only.py', 'oracle.py', 'adaptsegnet.py', 'mrnet.py', 'abn.py'
])
def test_config_trains_and_validates(bench, config):
    work_dir = bench / 'work' / config[:-3]
    out = train(config, work_dir, str(bench))
    assert 'Iter(train) [2/2]' in out
    check_val_metrics(out, num_classes=19)
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))


@pytest.mark.parametrize('config', ['sac.py', 'mrnet_sac.py'])
def test_sac_configs_train_from_abn(bench, config):
    abn_dir = bench / 'work' / 'abn_for_sac'
    if not osp.exists(osp.join(abn_dir, 'iter_2.pth')):
        train('abn.py', abn_dir, str(bench))
    out = train(config, bench / 'work' / config[:-3], str(bench),
                f'load_from={abn_dir}/iter_2.pth', 'model.teacher.interval=1')
    assert 'Load checkpoint from' in out
    assert 'tgt.loss_sac' in out and 'pl_coverage' in out
    check_val_metrics(out, num_classes=19)
    if config == 'mrnet_sac.py':
        assert 'tgt.loss_mr' in out


def test_resume_and_test_tool(bench):
    work_dir = bench / 'work' / 'mrnet_resume'
    train('mrnet.py', work_dir, str(bench), 'model.memory_reg_start_iter=0')
    out = train('mrnet.py', work_dir, str(bench),
                'model.memory_reg_start_iter=0', 'train_cfg.max_iters=3',
                resume=True)
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/3]' in out
    metrics = str(work_dir / 'metrics.json')
    _run([
        osp.join(ROOT, 'tools', 'test.py'),
        osp.join(ROOT, 'configs', 'synthetic', 'mrnet.py'),
        _last_ckpt(work_dir), '--work-dir',
        str(work_dir), '--json-out', metrics, '--cfg-options'
    ] + FAST, cwd=str(bench))
    with open(metrics) as f:
        result = json.load(f)
    per_class = [v for k, v in result.items() if k.startswith('IoU.')]
    assert len(per_class) == 19 and 'IoU.road' in result
    present = [v for v in per_class if not math.isnan(v)]
    assert 0.0 <= result['mIoU'] <= 100.0
    assert abs(result['mIoU'] - sum(present) / len(present)) <= 0.011


def test_run_benchmark_manifest(bench):
    """run_benchmark runs a manifest: the starts first, SAC from the ABN
    start, MRNet stage I (half) -> pseudo labels -> stage II, the baseline
    continued from its start; it writes the tables and the curves."""
    work_root = bench / 'bench_runs'
    out = _run([
        osp.join(ROOT, 'tools', 'run_benchmark.py'),
        osp.join(ROOT, 'configs', 'benchmarks', 'synthetic_gta2cs.py'),
        '--runs', 'source_only', 'mrnet_stage2', 'sac', '--work-root',
        str(work_root), '--out',
        str(work_root / 'table.md'), '--plot',
        str(work_root / 'curves.png'), '--jobs', '2', '--cfg-options'
    ] + FAST, cwd=str(bench))
    # the manifest's pseudo-label arguments (['--tta']) name the folder
    pseudo = work_root / 'mrnet_stage1_half' / 'seed0' / 'pseudo_tta'
    assert len(list(pseudo.rglob('*.png'))) == 4  # one per target image
    for start in ('source_start', 'abn_start'):
        assert (work_root / start / 'seed0' / 'target_metrics.json').exists()
    # runs outside --runs and their starts are not trained
    assert not (work_root / 'oracle').exists()
    assert not (work_root / 'adaptsegnet').exists()
    # every continued run loaded its start's checkpoint
    for run, start in (('sac', 'abn_start'), ('source_only', 'source_start'),
                       ('mrnet_stage2', 'mrnet_stage1_half')):
        logs = list((work_root / run / 'seed0').rglob('*.log'))
        text = ''.join(p.read_text() for p in logs)
        assert f'{start}/seed0/iter_2.pth' in text, run
    table = (work_root / 'table.md').read_text()
    assert '| mrnet_stage2 | 2 + 2 + 2 |' in table
    assert '| sac | 2 + 2 |' in table and '| source_only | 2 + 2 |' in table
    assert '| sac | ' in table.split('Paired')[1]
    assert '| abn | ' not in table  # not asked for
    assert (work_root / 'curves.png').read_bytes()[:4] == b'\x89PNG'
    metrics = json.loads(
        (work_root / 'sac' / 'seed0' / 'target_metrics.json').read_text())
    assert f"| sac | 2 + 2 | {metrics['mIoU']:.1f}" in out
