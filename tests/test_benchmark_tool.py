# Copyright (c) mmseg_uda contributors. All rights reserved.
"""tools/benchmark.py: its measures, its report, a peak-memory subprocess
and one short run of the whole script on a tiny generated benchmark."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
sys.path.insert(0, osp.join(ROOT, 'tests'))
import benchmark as bm  # noqa: E402
from helpers.train_runs import env  # noqa: E402

CONFIG_ARGS = [
    f'{name}={osp.join(ROOT, path)}'
    for name, path in bm.DEFAULT_CONFIGS.items()
]


def test_ratios():
    assert bm.extra_share(step=0.5, bare=0.45) == pytest.approx(0.1)
    assert bm.ratio(1.03, 1.0) == pytest.approx(1.03)
    assert bm.overhead(135, 100) == pytest.approx(0.35)
    # means, not medians: a stall every fourth step counts
    data = [0.0, 0.0, 0.0, 0.4]
    step = [1.0, 1.0, 1.0, 1.0]
    assert bm.data_share(data, step) == pytest.approx(0.1)


def test_named_config_arguments():
    args = bm.parse_args(['a=x.py', 'b=y.py', '--ratio', 'a/b'])
    assert args.configs == {'a': 'x.py', 'b': 'y.py'}
    assert args.ratio == [('a', 'b')]
    # defaults: the four synthetic methods, the MR ratio
    args = bm.parse_args([])
    assert args.configs == bm.DEFAULT_CONFIGS
    assert args.ratio == [('mrnet', 'adaptsegnet')]
    # a default ratio of configs not measured is dropped, a given one fails
    assert bm.parse_args(['sac=s.py']).ratio == []
    with pytest.raises(SystemExit):
        bm.parse_args(['sac=s.py', '--ratio', 'sac/abn'])
    with pytest.raises(SystemExit):
        bm.parse_args(['configs/synthetic/sac.py'])  # no name=


def _memory(peak, student=100, teacher=None):
    return dict(cpu_peak=peak, cuda_peak=None, student_bytes=student,
                teacher_bytes=teacher)


def test_report_rows_and_ratios():
    times = dict(adaptsegnet=(1.0, 0.95), mrnet=(1.02, 0.97),
                 abn=(0.5, 0.49), sac=(2.0, 1.8))
    data = {k: dict(data=[0.01, 0.03], step=[1.0, 1.0]) for k in times}
    data['abn'] = dict(data=[0.05, 0.05], step=[0.5, 0.5])
    mib = bm.MIB
    memory = dict(
        adaptsegnet=_memory(300 * mib), mrnet=_memory(310 * mib),
        abn=_memory(200 * mib),
        sac=_memory(260 * mib, 4 * mib, 4 * mib))
    text = bm.report(times, data, memory, ['head'], 'cpu',
                     [('mrnet', 'adaptsegnet')], ('sac', 'abn'))
    lines = text.splitlines()
    assert lines[0] == 'head'
    row = {line.split(' | ')[0].strip('| '): line for line in lines}
    for k in times:
        assert k in row
    assert row['sac'].startswith('| sac | 2000.0 ms | 1800.0 ms | 10.0% '
                                 '| 20.0 ms | 2.0% | 260 MiB |')
    assert '| 1.020 | <= 1.03 |' in row['mrnet / adaptsegnet step']
    assert '| 10.0% | <= 10% |' in row['extra work / step (largest: sac)']
    assert '| 10.0% | <= 5% |' in row[
        'data time / step time (largest: abn)']
    assert '260 MiB / 200 MiB = +30.0%' in row[
        'sac / abn step peak memory (peak RSS growth)']
    assert '= 1.00' in row['sac: teacher / student parameters + buffers']

    text = bm.report(times, None, None, [], 'cpu')
    assert 'not measured (--no-data)' in text
    assert 'not measured (--no-memory)' in text
    assert 'adaptsegnet step' not in text  # no ratio asked for


def test_section_timer_times_the_real_sac_step():
    """The network passes of SAC's real train_step: one teacher forward
    (all views at once), two student forwards (source, noisy views), one
    backward and one optimizer step; they take most of the step but not
    all of it (views, noise, fusion, thresholds, EMA update)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    bench = bm.Bench('sac', osp.join(ROOT, bm.DEFAULT_CONFIGS['sac']), 'cpu',
                     1, {'model.self_training.views.num_views': 2})
    step, network = bench.step()
    calls = dict(bench.timer.calls)
    # extract_feat + decode_head.forward per forward pass
    assert calls == {'teacher forward': 2, 'student forward': 4,
                     'backward': 1, 'optimizer step': 1}, calls
    assert 0 < network < step
    assert network == pytest.approx(sum(bench.timer.seconds.values()))
    # an adversarial config: the discriminators' passes and updates too
    bench = bm.Bench('mrnet', osp.join(ROOT, bm.DEFAULT_CONFIGS['mrnet']),
                     'cpu', 1, None)
    bench.step()
    calls = dict(bench.timer.calls)
    # generator loss (2 discriminators) + their updates (2 x source, target)
    assert calls['discriminator forward'] == 2 + 2 * 2, calls
    assert calls['backward'] == calls['optimizer step'] == 3, calls


@pytest.mark.slow
def test_memory_child_peak_is_its_own():
    """A SAC memory subprocess: teacher and student bytes, and a peak that
    is the child's own even when its parent is much larger (``ru_maxrss``
    would carry the parent's size over the exec)."""
    ballast = torch.ones(256 * 2**20)  # 1 GiB resident in this process
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'),
         '--memory-child', 'sac', '--memory-steps', '1'] + CONFIG_ARGS,
        cwd=ROOT, env=env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    del ballast
    # env() hides CUDA: the CPU measures are checked on every machine
    assert rec['name'] == 'sac' and rec['device'] == 'cpu'
    assert rec['teacher_bytes'] == rec['student_bytes'] > 0
    assert rec['peak_rss'] >= rec['rss_model_built'] >= \
        rec['rss_before_model']
    # model, teacher, optimizer state and a step's activations ...
    assert rec['cpu_peak'] > 2 * rec['student_bytes']
    # ... but not this 1 GiB parent
    assert rec['peak_rss'] < 1.5 * 2**30
    assert bm.peak_of(rec) == rec['cpu_peak']


@pytest.mark.slow
def test_script_runs(bench_dir):
    """The whole script, one step of everything, with the real dataloader
    on a tiny generated benchmark (peak memory: see the test above)."""
    root = str(bench_dir)
    out = bench_dir / 'speed.md'
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'),
         '--steps', '1', '--warmup', '0', '--data-steps', '1',
         '--no-memory', '--out', str(out)] + CONFIG_ARGS,
        cwd=root, env=env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    text = out.read_text()
    for k in bm.DEFAULT_CONFIGS:
        row = [line for line in text.splitlines()
               if line.startswith(f'| {k} |')]
        assert len(row) == 1, text
        step, network, extra, wait, share = row[0].split(' | ')[1:6]
        assert step.endswith(' ms') and network.endswith(' ms')
        assert float(network[:-3]) < float(step[:-3])
        assert extra.endswith('%') and wait.endswith(' ms')
        assert share.endswith('%')
    assert 'mrnet / adaptsegnet step' in text
    assert 'extra work / step (largest: ' in text
    assert 'data time / step time (largest: ' in text
