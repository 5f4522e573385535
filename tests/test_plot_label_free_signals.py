"""tools/plot_label_free_signals.py reads the validation-time scalars back
and ranks them against mIoU (Spearman, checked against the textbook
formula 1 - 6 sum d^2 / (n (n^2 - 1)) for distinct values)."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        'plot_signals', REPO / 'tools' / 'plot_label_free_signals.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spearman_matches_the_rank_formula():
    rng = np.random.default_rng(0)
    a, b = rng.permutation(9).astype(float), rng.permutation(9).astype(float)
    d = a - b  # permutations of 0..8 are their own ranks
    expected = 1 - 6 * (d**2).sum() / (9 * (81 - 1))
    assert _tool().spearman(a * 3 + 1, np.exp(b)) == pytest.approx(expected)


def test_reads_validation_scalars_and_plots(tmp_path):
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    records = [{'loss': 1.0, 'step': 25}]
    for step, miou in ((50, 20.0), (100, 22.0), (150, 21.0)):
        records.append({'mIoU': miou, 'teacher.mIoU': miou + 1,
                        'proxy.entropy': 1 - miou / 100, 'step': step})
    (vis / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records))
    tool = _tool()
    points = tool.read_points(str(tmp_path))
    assert points['mIoU'] == {50: 20.0, 100: 22.0, 150: 21.0}
    assert points['proxy.entropy'][100] == pytest.approx(0.78)
    assert 'loss' not in points
    out = tmp_path / 'signals.png'
    import sys
    argv, sys.argv = sys.argv, ['x', str(tmp_path), '--out', str(out)]
    try:
        tool.main()
    finally:
        sys.argv = argv
    assert out.read_bytes()[:4] == b'\x89PNG'
