"""Summaries of benchmark runs: accuracy tables, gap closed, mIoU curves.

Used by ``tools/run_benchmark.py``; pure functions over the files a run
leaves in its work dir (``target_metrics.json``: the last validation's
metrics from ``tools/train.py --val-json-out``, or ``tools/test.py
--json-out``; ``timing.json``; MMEngine's
``<timestamp>/vis_data/scalars.json``), so a table or plot can be rebuilt
from finished runs without training.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Curve = List[Tuple[int, float]]


def mean_std(values: Sequence[float]) -> str:
    """``'m ± s'`` (population std over seeds), or ``'m'`` for one value."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{values.mean():.1f} ± {values.std(ddof=0):.1f}'


def gap_closed(value: float, baseline: float, oracle: float) -> float:
    """Fraction of the baseline -> oracle gap that ``value`` closes:
    ``(value - baseline) / (oracle - baseline)``; 0 for the baseline, 1 for
    the oracle, negative when worse than the baseline."""
    if oracle == baseline:
        raise ValueError('the oracle and the baseline have the same score; '
                         'the gap closed is undefined')
    return (value - baseline) / (oracle - baseline)


def accuracy_table(results: Dict[str, List[dict]],
                   baseline: Optional[str] = 'source_only',
                   oracle: Optional[str] = 'oracle',
                   iterations: Optional[Dict[str, str]] = None) -> str:
    """Markdown table, one row per method, columns: iterations, the summary
    metrics (mIoU, and e.g. mIoU* when the evaluator reports class subsets),
    the gap closed, then per-class IoU; every cell mean ± std over seeds.

    Args:
        results: method name -> list of metric dicts, one per seed (the
            seeds in the same order for every method).
        baseline, oracle: names of the rows that define the gap; the gap
            closed is computed per seed (seed i of a method against seed i
            of the baseline and the oracle) and then averaged. Omitted when
            either row is missing.
        iterations: optional method name -> training budget text.
    """
    names = list(results)
    first = results[names[0]][0]
    summary = [k for k in first if not k.startswith('IoU.')
               and k not in ('aAcc', 'mAcc')]
    classes = [k for k in first if k.startswith('IoU.')]
    with_gap = baseline in results and oracle in results
    header = ['method'] + (['iterations'] if iterations else []) + summary
    header += ['gap closed'] if with_gap else []
    header += [k[4:] for k in classes]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for name in names:
        runs = results[name]
        row = [name] + ([iterations.get(name, '')] if iterations else [])
        row += [mean_std([r[k] for r in runs]) for k in summary]
        if with_gap:
            fractions = [
                gap_closed(r['mIoU'], b['mIoU'], o['mIoU'])
                for r, b, o in zip(runs, results[baseline], results[oracle])
            ]
            row.append(mean_std(np.asarray(fractions) * 100) + ' %')
        row += [mean_std([r[k] for r in runs]) for k in classes]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def paired_difference(runs: Sequence[dict], refs: Sequence[dict],
                      key: str = 'mIoU') -> Tuple[float, float]:
    """Mean and population std over seeds of ``run[key] - ref[key]``, seed
    by seed (``runs[i]`` and ``refs[i]`` come from the same seed, hence the
    same start and data order)."""
    diffs = np.array([r[key] - b[key] for r, b in zip(runs, refs)],
                     dtype=np.float64)
    return float(diffs.mean()), float(diffs.std(ddof=0))


def ordering(mean: float, std: float, name: str, ref: str) -> str:
    """``'name > ref'`` / ``'name < ref'`` where the paired mean exceeds its
    std in magnitude (with one seed: where it is non-zero), else
    ``'within noise'``."""
    if abs(mean) > std and mean != 0:
        return f'{name} {">" if mean > 0 else "<"} {ref}'
    return 'within noise'


def paired_differences_table(results: Dict[str, List[dict]],
                             baseline: Optional[str],
                             pairs: Sequence[Tuple[str, str]],
                             key: str = 'mIoU') -> str:
    """Markdown table of paired per-seed differences.

    One row per method (every row of ``results`` except ``baseline`` and
    the rows that are only references): the difference to the baseline,
    and for each ``(method, partner)`` of ``pairs`` the difference to its
    ablation partner, each ``mean ± std`` over seeds with the ordering it
    supports (:func:`ordering`).

    Args:
        results: method name -> metric dicts, one per seed, the seeds in the
            same order for every method.
        baseline: the row every method is compared with (or None).
        pairs: ``(method, partner)`` comparisons.
        key: the metric compared.
    """
    partners = {m: p for m, p in pairs}
    header = ['method', f'- {baseline}' if baseline else '', 'ordering',
              'ablation partner', '- partner', 'ordering']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for name, runs in results.items():
        if name == baseline:
            continue
        row = [name]
        if baseline:
            m, s = paired_difference(runs, results[baseline], key)
            row += [f'{m:+.1f} ± {s:.1f}', ordering(m, s, name, baseline)]
        else:
            row += ['', '']
        partner = partners.get(name)
        if partner in results:
            m, s = paired_difference(runs, results[partner], key)
            row += [partner, f'{m:+.1f} ± {s:.1f}',
                    ordering(m, s, name, partner)]
        else:
            row += ['', '', '']
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def timing_table(timings: Dict[str, List[dict]],
                 iterations: Optional[Dict[str, str]] = None) -> str:
    """Markdown table of wall times (minutes, mean over seeds) per run:
    training (with its validations), a separate test, pseudo labels, total.

    Args:
        timings: run name -> per-seed dicts with ``train_s`` and optionally
            ``separate_test_s`` (``tools/test.py`` where the run's last
            validation could not stand for the test) and
            ``pseudo_labels_s`` (a missing entry counts 0 s; runs reused
            from an earlier invocation without a record are left out of the
            mean).
        iterations: optional run name -> its iterations text.
    """
    keys = [('train_s', 'train'), ('separate_test_s', 'separate test'),
            ('pseudo_labels_s', 'pseudo labels')]
    header = ['run'] + (['iterations'] if iterations else []) + \
        [label for _, label in keys] + ['total (min)']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    total_all = 0.0
    for name, per_seed in timings.items():
        per_seed = [t for t in per_seed if t]
        if not per_seed:
            continue
        means = [np.mean([t.get(k, 0.0) for t in per_seed]) / 60
                 for k, _ in keys]
        total_all += sum(sum(t.values()) for t in per_seed) / 60
        row = [name] + ([iterations.get(name, '')] if iterations else [])
        row += [f'{m:.2f}' for m in means] + [f'{sum(means):.2f}']
        lines.append('| ' + ' | '.join(row) + ' |')
    lines.append(f'\nSum over all runs and seeds: {total_all:.1f} min '
                 '(single-run wall times; runs overlap with --jobs > 1).')
    return '\n'.join(lines)


def read_val_curve(work_dir: str, key: str = 'mIoU') -> Curve:
    """``[(iteration, value), ...]`` of the validations logged during
    training in ``work_dir`` (all sessions, so a resumed run is complete;
    a later session's value wins for the same iteration). Evaluation-only
    sessions (tools/test.py) log no training losses and are skipped."""
    points = {}
    pattern = osp.join(work_dir, '*', 'vis_data', 'scalars.json')
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        if not any('loss' in r for r in records):
            continue
        for r in records:
            if key in r and 'step' in r:
                points[int(r['step'])] = float(r[key])
    return sorted(points.items())


def mean_curve(curves: Sequence[Curve]) -> Tuple[np.ndarray, np.ndarray,
                                                 np.ndarray]:
    """Iterations common to all seeds' curves, with mean and std there."""
    common = sorted(set.intersection(*[{i for i, _ in c} for c in curves]))
    values = np.array([[dict(c)[i] for i in common] for c in curves],
                      dtype=np.float64)
    return np.asarray(common), values.mean(0), values.std(0)


def plot_curves(curves: Dict[str, Tuple[int, List[Curve]]], out: str,
                title: str = '', ylabel: str = 'target mIoU') -> None:
    """PNG of the mean target mIoU (band: ± std over seeds) per method.

    Args:
        curves: method -> (iteration offset, one curve per seed). A stage
            that starts from an earlier stage's checkpoint is drawn from
            that stage's last iteration (the offset), so the x axis is the
            total number of training iterations spent.
        out: the PNG path.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.cm.tab20.colors  # distinct colours for up to 20 runs
    for index, (name, (offset, seed_curves)) in enumerate(curves.items()):
        seed_curves = [c for c in seed_curves if c]
        if not seed_curves:
            continue
        x, m, s = mean_curve(seed_curves)
        x = x + offset
        (line, ) = ax.plot(x, m, marker='o', markersize=3, label=name,
                           color=colours[(2 * index) % 20 + (index // 10) % 2])
        ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.15)
    ax.set_xlabel('training iterations (including earlier stages)')
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
