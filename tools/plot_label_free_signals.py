"""Plot the label-free signals logged at each validation against the
target mIoU of the same run, and print their rank correlations.

``LabelFreeSignalsHook`` logs ``proxy.*`` (mean max-probability, mean
normalised entropy, head and teacher/student disagreement) and
``TeacherEvalHook`` ``teacher.mIoU`` next to the student's ``mIoU`` in
MMEngine's ``vis_data/scalars.json``; this reads them back, so a user can
see on a labelled benchmark whether a signal tracks mIoU before trusting it
to pick a checkpoint on unlabelled data.

Usage::

    python tools/plot_label_free_signals.py WORK_DIR --out signals.png
"""
import argparse
import glob
import json
import os.path as osp

import numpy as np


def read_points(work_dir):
    """``{key: {step: value}}`` of every validation-time scalar."""
    points = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'mIoU' not in record:
                    continue
                for key, value in record.items():
                    if key == 'mIoU' or key.startswith(('proxy.',
                                                        'teacher.mIoU')):
                        points.setdefault(key, {})[record['step']] = value
    return points


def spearman(a, b):
    """Spearman rank correlation (no ties handling beyond numpy's argsort)."""
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', required=True, help='PNG path')
    args = parser.parse_args()
    points = read_points(args.work_dir)
    if 'mIoU' not in points:
        raise SystemExit(f'{args.work_dir}: no validation mIoU logged')
    steps = sorted(points['mIoU'])
    miou = np.array([points['mIoU'][s] for s in steps])
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = sorted(k for k in points if k.startswith('proxy.'))
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(4 * (len(keys) + 1),
                                                         3.2))
    axes[0].plot(steps, miou, marker='o', label='student mIoU')
    if 'teacher.mIoU' in points:
        axes[0].plot(steps, [points['teacher.mIoU'].get(s, np.nan)
                             for s in steps], marker='o',
                     label='teacher mIoU')
    axes[0].set_xlabel('iteration')
    axes[0].legend(fontsize=7)
    for ax, key in zip(axes[1:], keys):
        values = np.array([points[key].get(s, np.nan) for s in steps])
        ok = ~np.isnan(values)
        rho = spearman(values[ok], miou[ok]) if ok.sum() > 2 else np.nan
        print(f'{key}: Spearman vs mIoU {rho:+.2f} over {ok.sum()} points')
        ax.plot(steps, values, marker='o', color='tab:red')
        ax.set_title(f'{key}\nSpearman vs mIoU {rho:+.2f}', fontsize=8)
        ax.set_xlabel('iteration')
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == '__main__':
    main()
