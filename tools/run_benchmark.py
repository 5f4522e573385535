"""Train and evaluate several configs (and seeds) and print a target mIoU table.

Each run goes through ``tools/train.py`` and ``tools/test.py`` in its own
process, exactly as a user would run them; finished runs (a metrics JSON in
their work dir) are reused, so an interrupted benchmark continues where it
stopped.

Multi-stage methods declare their previous stage in the config:

- ``stage_from = 'abn.py'`` (a config path relative to this config): the
  previous stage is trained first with the same seed and its last
  checkpoint becomes ``load_from`` (SAC after ABN; MRNet stage II after
  stage I);
- ``pseudo_labels_from_stage = True``: before training, pseudo labels are
  written with ``tools/gen_pseudo_labels.py`` from the previous stage's
  checkpoint and ``train_dataloader.dataset.pseudo_label_dir`` points at
  them (MRNet stage II).

Usage::

    python tools/run_benchmark.py CONFIG [CONFIG ...] [--seeds 0 1 2]
        [--work-root work_dirs/bench] [--out results.md]
        [--cfg-options k=v ...]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-root', default='work_dirs/bench')
    parser.add_argument('--out', help='also write the markdown table here')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='passed to every train.py call')
    return parser.parse_args()


def run_name(config):
    return osp.splitext(osp.basename(config))[0]


def last_checkpoint(work_dir):
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(marker):
        raise FileNotFoundError(f'training wrote no checkpoint in {work_dir}')
    with open(marker) as f:
        return f.read().strip()


def stage_options(config, seed, work_root, cfg_options):
    """Train the previous stage if the config declares one; return the
    ``--cfg-options`` that start this stage from it."""
    from mmengine.config import Config

    import mmseg_uda  # noqa: F401  (mmseg:: config paths, registries)
    cfg = Config.fromfile(config)
    prev = cfg.get('stage_from')
    if not prev:
        return []
    prev = osp.normpath(osp.join(osp.dirname(config), prev))
    run_one(prev, seed, work_root, cfg_options)
    ckpt = last_checkpoint(osp.join(work_root, run_name(prev), f'seed{seed}'))
    options = [f'load_from={ckpt}']
    if cfg.get('pseudo_labels_from_stage', False):
        out = osp.join(work_root, run_name(prev), f'seed{seed}', 'pseudo')
        subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools', 'gen_pseudo_labels.py'), prev, ckpt,
            '--out', out
        ], check=True)
        options.append(f'train_dataloader.dataset.pseudo_label_dir={out}')
    return options


def run_one(config, seed, work_root, cfg_options):
    work_dir = osp.join(work_root, run_name(config), f'seed{seed}')
    metrics_file = osp.join(work_dir, 'target_metrics.json')
    if osp.exists(metrics_file):
        print(f'[bench] {config} seed {seed}: reusing {metrics_file}')
        with open(metrics_file) as f:
            return json.load(f)
    py = sys.executable
    options = [f'randomness.seed={seed}'] + list(cfg_options) + \
        stage_options(config, seed, work_root, cfg_options)
    t0 = time.time()
    subprocess.run([
        py, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
        work_dir, '--cfg-options', *options
    ], check=True)
    subprocess.run([
        py, osp.join(ROOT, 'tools', 'test.py'), config,
        last_checkpoint(work_dir), '--work-dir', work_dir, '--json-out',
        metrics_file
    ], check=True)
    print(f'[bench] {config} seed {seed}: {time.time() - t0:.0f} s')
    with open(metrics_file) as f:
        return json.load(f)


def fmt(values):
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{values.mean():.1f} ± {values.std(ddof=0):.1f}'


def table(results):
    """Markdown table: one row per config, mIoU (and subsets), per class."""
    names = list(results)
    first = results[names[0]][0]
    summary_keys = [k for k in first if not k.startswith('IoU.')
                    and k not in ('aAcc', 'mAcc')]
    class_keys = [k for k in first if k.startswith('IoU.')]
    header = ['method'] + summary_keys + [k[4:] for k in class_keys]
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for name in names:
        runs = results[name]
        row = [name] + [fmt([r[k] for r in runs])
                        for k in summary_keys + class_keys]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def main():
    args = parse_args()
    results = {}
    for config in args.configs:
        results[run_name(config)] = [
            run_one(config, seed, args.work_root, args.cfg_options)
            for seed in args.seeds
        ]
    text = (f'Target-domain results (seeds {args.seeds}; mean ± std)\n\n' +
            table(results))
    print('\n' + text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
