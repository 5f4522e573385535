"""Every synthetic config trains a few iterations through tools/train.py.

The session's small synthetic benchmark (see ``conftest.synthetic_data``)
is linked into a temporary working directory, so the configs' relative
``data/synthetic/...`` roots resolve exactly as for a user. Subprocesses
run on the CPU (``helpers.train_runs.env``).
"""
import json
import math
import os.path as osp

import pytest
from helpers.train_runs import LOADERS, TWO_ITERS, run_python
from helpers.val_log import check_val_metrics

pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# from random weights (LOADERS: load_from=None), two iterations
FAST = LOADERS + TWO_ITERS


def train(config, work_dir, cwd, *extra, resume=False):
    args = [
        osp.join(ROOT, 'tools', 'train.py'),
        osp.join(ROOT, 'configs', 'synthetic', config), '--work-dir',
        str(work_dir)
    ]
    if resume:
        args.append('--resume')
    args += ['--cfg-options'] + FAST + list(extra)
    return run_python(args, cwd)


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
    run_python([
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
    out = run_python([
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
    # evaluated once: the synthetic configs validate on their test split
    # with their test evaluator, so every run's last validation is its test
    for run in ('source_start', 'abn_start', 'source_only',
                'mrnet_stage1_half', 'mrnet_stage2', 'sac'):
        timing = json.loads(
            (work_root / run / 'seed0' / 'timing.json').read_text())
        assert 'train_s' in timing and 'separate_test_s' not in timing, run
    assert '| separate test |' in table
    # ... and gives tools/test.py's numbers on the last checkpoint, metric
    # for metric (the old path; SAC's teacher.* metrics are not test ones)
    for run, config in (('sac', 'sac.py'), ('mrnet_stage2',
                                            'mrnet_stage2.py')):
        work_dir = work_root / run / 'seed0'
        tested = work_dir / 'tested.json'
        run_python([
            osp.join(ROOT, 'tools', 'test.py'),
            osp.join(ROOT, 'configs', 'synthetic', config),
            _last_ckpt(work_dir), '--work-dir',
            str(work_dir / 'test'), '--json-out', str(tested)
        ], cwd=str(bench))
        _assert_same_metrics(
            json.loads((work_dir / 'target_metrics.json').read_text()),
            json.loads(tested.read_text()), run)
    # a second invocation reuses every finished run (and reports a
    # selection without the baseline)
    again = run_python([
        osp.join(ROOT, 'tools', 'run_benchmark.py'),
        osp.join(ROOT, 'configs', 'benchmarks', 'synthetic_gta2cs.py'),
        '--runs', 'sac', '--work-root', str(work_root)
    ], cwd=str(bench))
    assert again.count('reusing') == 2 and 'Iter(train)' not in again
    # a selection of starts alone trains (here: reuses) them, no report
    starts = run_python([
        osp.join(ROOT, 'tools', 'run_benchmark.py'),
        osp.join(ROOT, 'configs', 'benchmarks', 'synthetic_gta2cs.py'),
        '--runs', 'source_start', '--work-root', str(work_root)
    ], cwd=str(bench))
    assert starts.count('reusing') == 1 and 'no report' in starts


def _assert_same_metrics(got, expected, run):
    assert sorted(got) == sorted(expected), run
    for key, value in expected.items():
        same = got[key] == value or (math.isnan(value)
                                     and math.isnan(got[key]))
        assert same, (run, key, got[key], value)


def test_run_benchmark_tests_separately_where_validation_differs(bench):
    """A run whose validation differs from its test (here: the validation
    also computes mDice) is evaluated by tools/test.py on its last
    checkpoint, timed as a separate test."""
    work_root = bench / 'bench_fallback'
    out = run_python([
        osp.join(ROOT, 'tools', 'run_benchmark.py'),
        osp.join(ROOT, 'configs', 'benchmarks', 'synthetic_gta2cs.py'),
        '--runs', 'oracle', '--work-root', str(work_root),
        '--cfg-options'
    ] + FAST + ['val_evaluator.iou_metrics=[mIoU,mDice]'], cwd=str(bench))
    work_dir = work_root / 'oracle' / 'seed0'
    assert 'validation and test differ' in out
    assert not (work_dir / 'final_val_metrics.json').exists()
    metrics = json.loads((work_dir / 'target_metrics.json').read_text())
    assert 'mIoU' in metrics and 'mDice' not in metrics  # the test's own
    assert 'mDice' in out  # the training validated with its own evaluator
    timing = json.loads((work_dir / 'timing.json').read_text())
    assert timing['separate_test_s'] > 0
