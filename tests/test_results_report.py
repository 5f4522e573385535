"""Benchmark summaries: gap closed, tables over seeds, mIoU curves."""
import json
import os

import numpy as np
import pytest

from mmseg_uda.utils.results_report import (accuracy_table, gap_closed,
                                            mean_curve, mean_std,
                                            plot_curves, read_val_curve)


def _metrics(miou, road, star=None):
    m = {'aAcc': 90.0, 'mIoU': miou, 'mAcc': 50.0}
    if star is not None:
        m['mIoU*'] = star
    m.update({'IoU.road': road, 'IoU.sky': 2 * miou - road})
    return m


def test_gap_closed_endpoints_and_sign():
    assert gap_closed(20.0, 20.0, 40.0) == 0.0
    assert gap_closed(40.0, 20.0, 40.0) == 1.0
    assert gap_closed(30.0, 20.0, 40.0) == pytest.approx(0.5)
    assert gap_closed(10.0, 20.0, 40.0) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match='undefined'):
        gap_closed(1.0, 5.0, 5.0)


def test_mean_std_population_std():
    assert mean_std([3.0]) == '3.0'
    # mean 2, population std sqrt(2/3) = 0.816...
    assert mean_std([1.0, 2.0, 3.0]) == '2.0 ± 0.8'


def test_accuracy_table_gap_is_per_seed_then_averaged():
    results = {
        'oracle': [_metrics(40, 80, 45), _metrics(50, 85, 55)],
        'source_only': [_metrics(20, 60, 25), _metrics(10, 50, 15)],
        'sac': [_metrics(30, 70, 35), _metrics(40, 75, 45)],
    }
    text = accuracy_table(results, iterations={'sac': '500 + 500'})
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    assert header == ['method', 'iterations', 'mIoU', 'mIoU*',
                      'gap closed', 'road', 'sky']
    rows = {r.split('|')[1].strip(): [c.strip() for c in
                                      r.strip('|').split('|')]
            for r in lines[2:]}
    # seed 0: (30-20)/(40-20) = 0.5; seed 1: (40-10)/(50-10) = 0.75
    fractions = np.array([0.5, 0.75]) * 100
    expected = f'{fractions.mean():.1f} ± {fractions.std():.1f} %'
    assert rows['sac'][4] == expected
    assert rows['sac'][1] == '500 + 500'
    assert rows['source_only'][4] == '0.0 ± 0.0 %'
    assert rows['oracle'][4] == '100.0 ± 0.0 %'
    assert rows['sac'][2] == '35.0 ± 5.0'  # mIoU
    assert rows['sac'][3] == '40.0 ± 5.0'  # mIoU*
    # no gap column without a baseline row
    no_gap = accuracy_table({'sac': results['sac']})
    assert 'gap closed' not in no_gap


def _write_scalars(work_dir, stamp, records):
    path = os.path.join(work_dir, stamp, 'vis_data')
    os.makedirs(path)
    with open(os.path.join(path, 'scalars.json'), 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')


def test_read_val_curve_merges_sessions_and_skips_test_runs(tmp_path):
    wd = str(tmp_path)
    _write_scalars(wd, '20260101_000000', [
        {'loss': 1.0, 'step': 50}, {'mIoU': 10.0, 'step': 100},
        {'loss': 0.9, 'step': 150}, {'mIoU': 12.0, 'step': 200}])
    # resumed session: re-validates iteration 200, then continues
    _write_scalars(wd, '20260101_010000', [
        {'loss': 0.8, 'step': 250}, {'mIoU': 13.0, 'step': 200},
        {'mIoU': 15.0, 'step': 300}])
    # tools/test.py session: no training losses, must be ignored
    _write_scalars(wd, '20260101_020000', [{'mIoU': 99.0, 'step': 300}])
    assert read_val_curve(wd) == [(100, 10.0), (200, 13.0), (300, 15.0)]
    assert read_val_curve(str(tmp_path / 'missing')) == []


def test_mean_curve_and_plot(tmp_path):
    a = [(100, 10.0), (200, 20.0), (300, 30.0)]
    b = [(100, 14.0), (200, 22.0)]  # a shorter (e.g. unfinished) seed
    x, m, s = mean_curve([a, b])
    np.testing.assert_array_equal(x, [100, 200])
    np.testing.assert_allclose(m, [12.0, 21.0])
    np.testing.assert_allclose(s, [2.0, 1.0])
    out = tmp_path / 'curves.png'
    plot_curves({'abn': (0, [a, b]), 'sac': (300, [a]),
                 'empty': (0, [[]])}, str(out), title='t')
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
