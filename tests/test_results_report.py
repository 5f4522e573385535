"""Benchmark summaries: gap closed, tables over seeds, mIoU curves."""
import json
import os

import numpy as np
import pytest

from mmseg_uda.utils.results_report import (accuracy_table, gap_closed,
                                            mean_curve, mean_std,
                                            paired_differences_table,
                                            plot_curves, read_val_curve,
                                            timing_table)


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


def _cells(text):
    """Header and rows (first cell -> cells) of a markdown table; lines
    after the table are ignored."""
    lines = [line for line in text.splitlines() if line.startswith('|')]
    split = [[c.strip() for c in line.strip().strip('|').split('|')]
             for line in lines]
    return split[0], {row[0]: row for row in split[2:]}


def _expected_difference(runs, refs):
    """Independent recomputation: per-seed differences, their mean and
    population std (ddof=0, as documented), formatted as the table's cell,
    and the ordering rule (stated only where |mean| > std)."""
    diffs = np.array([r['mIoU'] for r in runs]) - \
        np.array([b['mIoU'] for b in refs])
    mean, std = diffs.mean(), np.std(diffs, ddof=0)
    return f'{mean:+.1f} ± {std:.1f}', abs(mean) > std


def test_paired_differences_table_against_numpy():
    seeds = lambda *v: [{'mIoU': x} for x in v]  # noqa: E731
    results = {
        'source_only': seeds(20.0, 22.0, 18.0),
        # - source_only: +5, +5, +5 -> ordering
        'abn': seeds(25.0, 27.0, 23.0),
        # - abn: 0.5, 0.5, 3.5: mean 1.5 > population std 1.41 (but < the
        # sample std 1.73): an ordering only with the documented ddof=0
        'sac': seeds(25.5, 27.5, 26.5),
        # - abn: -1, +1, 0: within noise; no partner of its own
        'adaptsegnet': seeds(24.0, 28.0, 23.0),
    }
    pairs = [('sac', 'abn'), ('abn', 'source_only')]
    text = paired_differences_table(results, 'source_only', pairs)
    header, rows = _cells(text)
    assert header == ['method', '- source_only', 'ordering',
                      'ablation partner', '- partner', 'ordering']
    assert 'source_only' not in rows  # the reference has no row
    assert list(rows) == ['abn', 'sac', 'adaptsegnet']
    partners = dict(pairs)
    for name, row in rows.items():
        cell, ordered = _expected_difference(results[name],
                                             results['source_only'])
        assert row[1] == cell, name
        sign = '>' if cell.startswith('+') else '<'
        assert row[2] == (f'{name} {sign} source_only' if ordered
                          else 'within noise'), name
        if name not in partners:
            assert row[3:] == ['', '', ''], name
            continue
        partner = partners[name]
        cell, ordered = _expected_difference(results[name], results[partner])
        assert row[3:5] == [partner, cell], name
        sign = '>' if cell.startswith('+') else '<'
        assert row[5] == (f'{name} {sign} {partner}' if ordered
                          else 'within noise'), name
    # the cases the numbers were chosen for
    assert rows['sac'][5] == 'sac > abn'
    assert rows['abn'][5] == 'abn > source_only'
    # without a baseline: the partner columns only
    _, rows = _cells(paired_differences_table(results, None, pairs))
    assert rows['sac'][1:3] == ['', ''] and rows['sac'][3] == 'abn'
    assert 'source_only' in rows


def test_paired_differences_below_noise_and_one_seed():
    results = {'base': [{'mIoU': 10.0}, {'mIoU': 10.0}],
               'm': [{'mIoU': 11.0}, {'mIoU': 8.0}]}  # -1 +- 2: noise
    _, rows = _cells(paired_differences_table(results, 'base', []))
    assert rows['m'][1:3] == ['-0.5 ± 1.5', 'within noise']
    # one seed: std 0, any non-zero difference orders, zero does not
    one = {'base': [{'mIoU': 10.0}], 'a': [{'mIoU': 9.0}],
           'b': [{'mIoU': 10.0}]}
    _, rows = _cells(paired_differences_table(one, 'base', []))
    assert rows['a'][2] == 'a < base' and rows['b'][2] == 'within noise'


def test_timing_table_against_numpy():
    timings = {
        'sac': [dict(train_s=300.0, separate_test_s=30.0),
                dict(train_s=420.0),  # no separate test: counts 0 s
                {}],  # reused without a record: not in the mean
        'mrnet_stage2': [dict(train_s=60.0, pseudo_labels_s=120.0),
                         dict(train_s=90.0, pseudo_labels_s=150.0)],
        'oracle': [{}],  # no record at all: no row
        # three seeds, skewed: the mean (3 min) is not the median (2 min)
        'abn': [dict(train_s=60.0), dict(train_s=120.0),
                dict(train_s=360.0)],
    }
    text = timing_table(timings, iterations={'sac': '800 + 400'})
    header, rows = _cells(text)
    assert header == ['run', 'iterations', 'train', 'separate test',
                      'pseudo labels', 'total (min)']
    assert list(rows) == ['sac', 'mrnet_stage2', 'abn']
    keys = ['train_s', 'separate_test_s', 'pseudo_labels_s']
    grand_total = 0.0
    for name, row in rows.items():
        recorded = [t for t in timings[name] if t]
        minutes = np.array([[t.get(k, 0.0) / 60 for k in keys]
                            for t in recorded])
        means = minutes.mean(axis=0)
        assert row[2:5] == [f'{m:.2f}' for m in means], name
        assert row[5] == f'{means.sum():.2f}', name
        grand_total += minutes.sum()
    assert rows['sac'][1] == '800 + 400' and rows['mrnet_stage2'][1] == ''
    assert rows['sac'][2:] == ['6.00', '0.25', '0.00', '6.25']
    assert f'Sum over all runs and seeds: {grand_total:.1f} min' in text
    assert rows['abn'][2] == '3.00'
    # 750 + 420 + 540 s
    assert 'Sum over all runs and seeds: 28.5 min' in text
    # without iterations: no iterations column
    header, _ = _cells(timing_table(timings))
    assert header == ['run', 'train', 'separate test', 'pseudo labels',
                      'total (min)']
