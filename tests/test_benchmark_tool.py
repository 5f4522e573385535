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
    a for name, path in bm.CONFIGS.items()
    for a in (f'--{name}', osp.join(ROOT, path))
]


def test_ratios():
    assert bm.extra_share(step=0.5, bare=0.45) == pytest.approx(0.1)
    assert bm.ratio(1.03, 1.0) == pytest.approx(1.03)
    assert bm.overhead(135, 100) == pytest.approx(0.35)
    # means, not medians: a stall every fourth step counts
    data = [0.0, 0.0, 0.0, 0.4]
    step = [1.0, 1.0, 1.0, 1.0]
    assert bm.data_share(data, step) == pytest.approx(0.1)


def _memory(peak, student=100, teacher=None):
    return dict(cpu_peak=peak, cuda_peak=None, student_bytes=student,
                teacher_bytes=teacher)


def test_report_rows_and_ratios():
    step = dict(adaptsegnet=1.0, mrnet=1.02, abn=0.5, sac=2.0)
    data = {k: dict(data=[0.01, 0.03], step=[1.0, 1.0]) for k in step}
    data['abn'] = dict(data=[0.05, 0.05], step=[0.5, 0.5])
    mib = bm.MIB
    memory = dict(
        adaptsegnet=_memory(300 * mib), mrnet=_memory(310 * mib),
        abn=_memory(200 * mib),
        sac=_memory(260 * mib, 4 * mib, 4 * mib),
        sac_1view=_memory(220 * mib, 4 * mib, 4 * mib),
        bare_teacher=_memory(230 * mib, 4 * mib, 4 * mib),
        bare_no_teacher=_memory(200 * mib, 4 * mib, 4 * mib))
    text = bm.report(step, 1.8, data, memory, ['head'], 'cpu')
    lines = text.splitlines()
    assert lines[0] == 'head'
    row = {line.split(' | ')[0].strip('| '): line for line in lines}
    for k in bm.CONFIGS:
        assert k in row
    assert row['sac'].startswith('| sac | 2000.0 ms | 20.0 ms | 2.0% '
                                 '| 260 MiB |')
    assert '1800.0 ms' in row['SAC network passes alone']
    assert '| 1.020 | <= 1.03 |' in row['MRNet / AdaptSegNet step']
    assert '| 10.0% | <= 10% |' in row['SAC extra work / SAC step']
    assert '| 10.0% | <= 5% |' in row[
        'data time / step time (largest: abn)']
    assert '260 MiB / 200 MiB = +30.0%' in row[
        'SAC / ABN step peak memory (peak RSS growth)']
    assert '+10.0%' in row['SAC with 1 view per image / ABN step peak memory']
    assert '= 1.00' in row['teacher / student parameters + buffers']
    teacher_row = [line for line in lines
                   if line.startswith('| teacher memory overhead')]
    assert len(teacher_row) == 1
    assert '230 MiB / 200 MiB = +15.0% | < +35% (paper) |' in teacher_row[0]

    text = bm.report(step, 1.8, None, None, [], 'cpu')
    assert 'not measured (--no-data)' in text
    assert 'not measured (--no-memory)' in text


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
def test_memory_child_bare_passes_without_teacher():
    """The teacher-overhead children: SAC's bare network passes with and
    without the teacher forward both run and report their own peaks."""
    for mode in ('teacher', 'no-teacher'):
        proc = subprocess.run(
            [sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'),
             '--memory-child', 'sac', '--memory-bare', mode,
             '--memory-steps', '1'] + CONFIG_ARGS,
            cwd=ROOT, env=env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        assert rec['name'] == 'sac' and bm.peak_of(rec) > 0


def test_bare_sac_step_skips_the_teacher(monkeypatch):
    """``with_teacher=False`` runs no forward pass of the teacher; the
    default runs exactly one (on all views at once)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    bench = bm.Bench('sac', osp.join(ROOT, bm.CONFIGS['sac']), 'cpu', 1,
                     None)
    calls = []
    real = bm.forward_heads

    def spy(module, inputs):
        calls.append(module is bench.model.teacher.module)
        return real(module, inputs)

    monkeypatch.setattr(bm, 'forward_heads', spy)
    bm.bare_sac_step(bench, with_teacher=False)
    assert calls == [False, False]  # source, views: student only
    calls.clear()
    bm.bare_sac_step(bench)
    assert calls == [True, False, False]


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
    for k in bm.CONFIGS:
        row = [line for line in text.splitlines()
               if line.startswith(f'| {k} |')]
        assert len(row) == 1, text
        step, wait, share = row[0].split(' | ')[1:4]
        assert step.endswith(' ms') and wait.endswith(' ms')
        assert share.endswith('%')
    assert 'SAC extra work / SAC step' in text
    assert 'data time / step time (largest: ' in text
