"""Train and evaluate several configs (and seeds); write the accuracy table
and the target-mIoU curves.

Each run goes through ``tools/train.py`` and ``tools/test.py`` in its own
process, exactly as a user would run them; finished runs (a metrics JSON in
their work dir) are reused, so an interrupted benchmark continues where it
stopped. ``--jobs N`` trains N runs at a time (each with ``cpu_count / N``
threads unless ``OMP_NUM_THREADS`` is set); a run that several others
depend on is trained once.

Multi-stage methods declare their previous stage in the config:

- ``stage_from = 'abn.py'`` (a config path relative to this config): the
  previous stage is trained first with the same seed and its last
  checkpoint becomes ``load_from`` (SAC after ABN; MRNet stage II after
  stage I);
- ``pseudo_labels_from_stage = True``: before training, pseudo labels are
  written with ``tools/gen_pseudo_labels.py`` from the previous stage's
  checkpoint and ``train_dataloader.dataset.pseudo_label_dir`` points at
  them (MRNet stage II); ``pseudo_label_args = ['--tta']`` passes
  arguments to it.

Output: a markdown table (mean ± std over seeds of mIoU, class-subset
scores such as mIoU*, the fraction of the ``--baseline`` -> ``--oracle``
gap closed, per-class IoU; the iterations column counts every stage) and,
with ``--plot``, a PNG of target mIoU over training iterations (validation
every ``train_cfg.val_interval`` iterations; later stages drawn from the
end of their previous stage).

Usage::

    python tools/run_benchmark.py CONFIG [CONFIG ...] [--seeds 0 1 2]
        [--work-root work_dirs/bench] [--out results.md] [--plot curves.png]
        [--jobs 2] [--title TEXT] [--cfg-options k=v ...]
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmseg_uda.utils.results_report import (  # noqa: E402
    accuracy_table, plot_curves, read_val_curve)

# one lock per run directory: a stage that several methods start from (ABN
# for SAC and MR+SAC) is trained once, the others wait for it
_RUN_LOCKS = defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-root', default='work_dirs/bench')
    parser.add_argument('--out', help='also write the markdown table here')
    parser.add_argument('--plot', help='write the mIoU curves (PNG) here')
    parser.add_argument('--title', default='', help='table/plot title')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at the same time')
    parser.add_argument('--baseline', default='source_only',
                        help='run name of the gap\'s lower end')
    parser.add_argument('--oracle', default='oracle',
                        help='run name of the gap\'s upper end')
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


def checkpoint_iters(work_dir):
    """Iterations trained in ``work_dir`` (from ``iter_N.pth``)."""
    match = re.search(r'iter_(\d+)\.pth$', last_checkpoint(work_dir))
    return int(match.group(1)) if match else 0


@lru_cache(maxsize=None)
def previous_stage(config):
    """The config this one starts from (``stage_from``), or None, and the
    extra arguments of ``tools/gen_pseudo_labels.py`` when the stage needs
    pseudo labels from it (None otherwise)."""
    from mmengine.config import Config

    import mmseg_uda  # noqa: F401  (mmseg:: config paths, registries)
    cfg = Config.fromfile(config)
    prev = cfg.get('stage_from')
    if not prev:
        return None, None
    prev = osp.normpath(osp.join(osp.dirname(config), prev))
    if not cfg.get('pseudo_labels_from_stage', False):
        return prev, None
    return prev, tuple(cfg.get('pseudo_label_args', []))


def run_dir(work_root, config, seed):
    return osp.join(work_root, run_name(config), f'seed{seed}')


def stage_options(config, seed, work_root, cfg_options, env):
    """Train the previous stage if the config declares one; return the
    ``--cfg-options`` that start this stage from it."""
    prev, pseudo_args = previous_stage(config)
    if prev is None:
        return []
    run_one(prev, seed, work_root, cfg_options, env)
    prev_dir = run_dir(work_root, prev, seed)
    ckpt = last_checkpoint(prev_dir)
    options = [f'load_from={ckpt}']
    if pseudo_args is not None:
        # one folder per argument set, so that variants do not mix labels
        out = osp.join(prev_dir, '_'.join(['pseudo'] + [
            a.strip('-').replace('.', 'p') for a in pseudo_args]))
        with _run_lock(out):
            subprocess.run([
                sys.executable,
                osp.join(ROOT, 'tools', 'gen_pseudo_labels.py'), prev, ckpt,
                '--out', out
            ] + list(pseudo_args), check=True, env=env)
        options.append(f'train_dataloader.dataset.pseudo_label_dir={out}')
    return options


def _run_lock(key):
    with _LOCKS_GUARD:
        return _RUN_LOCKS[osp.abspath(key)]


def run_one(config, seed, work_root, cfg_options, env=None):
    """Train (with its earlier stages) and evaluate one config and seed;
    return its target metrics."""
    work_dir = run_dir(work_root, config, seed)
    with _run_lock(work_dir):
        metrics_file = osp.join(work_dir, 'target_metrics.json')
        if osp.exists(metrics_file):
            print(f'[bench] {config} seed {seed}: reusing {metrics_file}',
                  flush=True)
            with open(metrics_file) as f:
                return json.load(f)
        py = sys.executable
        options = [f'randomness.seed={seed}'] + list(cfg_options) + \
            stage_options(config, seed, work_root, cfg_options, env)
        t0 = time.time()
        subprocess.run([
            py, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
            work_dir, '--cfg-options', *options
        ], check=True, env=env)
        subprocess.run([
            py, osp.join(ROOT, 'tools', 'test.py'), config,
            last_checkpoint(work_dir), '--work-dir', work_dir, '--json-out',
            metrics_file
        ], check=True, env=env)
        print(f'[bench] {config} seed {seed}: {time.time() - t0:.0f} s',
              flush=True)
        with open(metrics_file) as f:
            return json.load(f)


def stage_chain(config):
    """``[first stage, ..., config]``."""
    chain = [config]
    while True:
        prev, _ = previous_stage(chain[0])
        if prev is None:
            return chain
        chain.insert(0, prev)


def budgets_and_curves(configs, seeds, work_root):
    """Per method: the iterations of each stage (text) and the plot entry
    ``(offset, curves)``, offset = iterations of the earlier stages."""
    iterations, curves = {}, {}
    for config in configs:
        chain = stage_chain(config)
        stage_iters = [
            checkpoint_iters(run_dir(work_root, c, seeds[0])) for c in chain
        ]
        iterations[run_name(config)] = ' + '.join(map(str, stage_iters))
        seed_curves = []
        for s in seeds:
            curve = read_val_curve(run_dir(work_root, config, s))
            if len(chain) > 1 and curve:
                # start from the previous stage's last validation, so the
                # line continues where that stage ended
                prev = read_val_curve(run_dir(work_root, chain[-2], s))
                if prev and prev[-1][0] == stage_iters[-2]:
                    curve = [(0, prev[-1][1])] + curve
            seed_curves.append(curve)
        curves[run_name(config)] = (sum(stage_iters[:-1]), seed_curves)
    return iterations, curves


def main():
    args = parse_args()
    env = dict(os.environ)
    if args.jobs > 1 and 'OMP_NUM_THREADS' not in env:
        env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) //
                                         args.jobs))
    jobs = [(c, s) for c in args.configs for s in args.seeds]
    # longest stage chains first, so that parallel workers rarely wait for
    # a stage another worker is training
    depth = {c: len(stage_chain(c)) for c in args.configs}
    jobs.sort(key=lambda job: -depth[job[0]])
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {
            job: pool.submit(run_one, job[0], job[1], args.work_root,
                             args.cfg_options, env)
            for job in jobs
        }
        done = {job: f.result() for job, f in futures.items()}
    results = {
        run_name(c): [done[(c, s)] for s in args.seeds]
        for c in args.configs
    }
    iterations, curves = budgets_and_curves(args.configs, args.seeds,
                                            args.work_root)
    title = args.title or 'Target-domain results'
    text = (f'{title} (seeds {args.seeds}; mean ± std over seeds)\n\n' +
            accuracy_table(results, args.baseline, args.oracle, iterations))
    print('\n' + text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    if args.plot:
        os.makedirs(osp.dirname(osp.abspath(args.plot)), exist_ok=True)
        plot_curves(curves, args.plot, title=title)
        print(f'[bench] curves written to {args.plot}')


if __name__ == '__main__':
    main()
