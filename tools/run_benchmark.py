"""Run a benchmark manifest: train and evaluate its runs over several seeds,
write the accuracy table, the paired differences, the timings and the
target-mIoU curves.

A manifest (``configs/benchmarks/*.py``, an MMEngine config holding only
data) lists the runs of a protocol; see ``configs/benchmarks/
synthetic_gta2cs.py`` for the fields. Each run goes through
``tools/train.py`` in its own process, exactly as a user would run it, with
``randomness.seed`` set to the seed. Its test metrics are evaluated once:
the training's own validation at the last iteration (``train.py
--val-json-out``, written only when the config validates on its test split
with its test evaluator), else ``tools/test.py`` on the last checkpoint.
A run with ``init`` starts from the last checkpoint of that run (same
seed), and one with ``pseudo_labels`` first writes pseudo labels with
``tools/gen_pseudo_labels.py`` from it. Finished runs (a metrics JSON in
their work dir) are reused, so an interrupted benchmark continues where it
stopped. ``--jobs N`` trains N runs at a time (each with ``cpu_count / N``
threads unless ``OMP_NUM_THREADS`` is set), starting a run only once the
run it starts from has finished.

Output: a markdown report with the mIoU table (mean ± std over seeds, class
subsets such as mIoU*, the gap closed between the manifest's ``baseline``
and ``oracle``, per-class IoU), the paired per-seed differences to the
baseline and to each ablation partner (``pairs``), and the wall time of
every run (training with its validations, a separate ``tools/test.py``
where one was needed, pseudo labels); with ``--plot`` a PNG of target mIoU
over the training iterations (each run drawn from the end of the run it
starts from).

Usage::

    python tools/run_benchmark.py MANIFEST [--seeds 0 1 2] [--runs NAME ...]
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
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmseg_uda.utils.results_report import (  # noqa: E402
    accuracy_table, paired_differences_table, plot_curves, read_val_curve,
    timing_table)

RUN_KEYS = {'name', 'config', 'init', 'pseudo_labels', 'cfg_options', 'row'}
# written by tools/train.py --val-json-out, renamed to target_metrics.json
FINAL_VAL_METRICS = 'final_val_metrics.json'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('manifest', help='benchmark manifest (configs/'
                        'benchmarks/*.py)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--runs', nargs='+', help='only these runs (and '
                        'the runs they start from)')
    parser.add_argument('--work-root', default='work_dirs/bench')
    parser.add_argument('--out', help='also write the markdown report here')
    parser.add_argument('--plot', help='write the mIoU curves (PNG) here')
    parser.add_argument('--title', default='', help='report/plot title')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at the same time')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to every train.py call (after the '
                        "manifest's own options)")
    return parser.parse_args()


def load_manifest(path):
    """The manifest's runs (name -> run dict, in order), baseline, oracle
    and pairs; config paths resolved. Raises ValueError on a malformed
    manifest, naming the file and the run."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    root = osp.normpath(osp.join(osp.dirname(path), cfg.config_root))
    runs = {}
    for run in cfg.runs:
        run = dict(run)
        unknown = set(run) - RUN_KEYS
        if unknown or 'name' not in run or 'config' not in run:
            raise ValueError(f'{path}: run {run.get("name")!r} needs name '
                             f'and config; unknown keys {sorted(unknown)}')
        if run.get('init') and run['init'] not in runs:
            raise ValueError(f'{path}: run {run["name"]!r} starts from '
                             f'{run["init"]!r}, which is not listed before it')
        run['config'] = osp.join(root, run['config'])
        if not osp.isfile(run['config']):
            raise ValueError(f'{path}: run {run["name"]!r}: no config '
                             f'{run["config"]}')
        run.setdefault('cfg_options', [])
        run.setdefault('row', True)
        runs[run['name']] = run
    for name in (cfg.get('baseline'), cfg.get('oracle')):
        if name and name not in runs:
            raise ValueError(f'{path}: {name!r} is not a run')
    return runs, cfg.get('baseline'), cfg.get('oracle'), \
        [tuple(p) for p in cfg.get('pairs', [])]


def with_dependencies(runs, names):
    """``names`` and every run they start from, in manifest order."""
    keep = set()
    for name in names:
        if name not in runs:
            raise ValueError(f'no run {name!r}; the manifest has '
                             f'{list(runs)}')
        while name:
            keep.add(name)
            name = runs[name].get('init')
    return {n: r for n, r in runs.items() if n in keep}


def run_dir(work_root, name, seed):
    return osp.join(work_root, name, f'seed{seed}')


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


class Runner:
    """Trains and evaluates the runs of one manifest for one work root."""

    def __init__(self, runs, work_root, cfg_options, env):
        self.runs = runs
        self.work_root = work_root
        self.cfg_options = list(cfg_options)
        self.env = env

    def _call(self, args):
        subprocess.run([sys.executable] + args, check=True, env=self.env)

    def pseudo_labels(self, run, seed, init_dir):
        """Write the pseudo labels of ``run`` from its start's checkpoint;
        return their folder (one folder per argument set)."""
        init = self.runs[run['init']]
        out = osp.join(init_dir, '_'.join(['pseudo'] + [
            a.strip('-').replace('.', 'p') for a in run['pseudo_labels']]))
        self._call([
            osp.join(ROOT, 'tools', 'gen_pseudo_labels.py'), init['config'],
            last_checkpoint(init_dir), '--out', out
        ] + list(run['pseudo_labels']))
        return out

    def train_and_test(self, name, seed):
        """One run and seed (its start must be finished); return metrics."""
        run = self.runs[name]
        work_dir = run_dir(self.work_root, name, seed)
        metrics_file = osp.join(work_dir, 'target_metrics.json')
        if osp.exists(metrics_file):
            print(f'[bench] {name} seed {seed}: reusing {metrics_file}',
                  flush=True)
            with open(metrics_file) as f:
                return json.load(f)
        options = [f'randomness.seed={seed}'] + list(run['cfg_options']) + \
            self.cfg_options
        timing = {}
        if run.get('init'):
            init_dir = run_dir(self.work_root, run['init'], seed)
            options.append(f'load_from={last_checkpoint(init_dir)}')
            if run.get('pseudo_labels') is not None:
                t0 = time.time()
                out = self.pseudo_labels(run, seed, init_dir)
                timing['pseudo_labels_s'] = time.time() - t0
                options.append(
                    f'train_dataloader.dataset.pseudo_label_dir={out}')
        val_file = osp.join(work_dir, FINAL_VAL_METRICS)
        if osp.exists(val_file):  # from an interrupted attempt
            os.remove(val_file)
        t0 = time.time()
        self._call([
            osp.join(ROOT, 'tools', 'train.py'), run['config'], '--work-dir',
            work_dir, '--val-json-out', val_file, '--cfg-options', *options
        ])
        timing['train_s'] = time.time() - t0
        if osp.exists(val_file):
            # the last validation is the test (FinalValMetricsHook)
            os.replace(val_file, metrics_file)
        else:
            t0 = time.time()
            self._call([
                osp.join(ROOT, 'tools', 'test.py'), run['config'],
                last_checkpoint(work_dir), '--work-dir', work_dir,
                '--json-out', metrics_file
            ])
            timing['separate_test_s'] = time.time() - t0
        with open(osp.join(work_dir, 'timing.json'), 'w') as f:
            json.dump(timing, f)
        print(f'[bench] {name} seed {seed}: {sum(timing.values()):.0f} s',
              flush=True)
        with open(metrics_file) as f:
            return json.load(f)

    def run_all(self, seeds, jobs):
        """Every (run, seed), ``jobs`` at a time, each once its start is
        done; starts first (they hold the others up), then manifest order
        within a seed."""
        todo = [(n, s) for s in seeds for n in self.runs]
        needed = {r.get('init') for r in self.runs.values()}
        todo.sort(key=lambda job: (job[0] not in needed, job[1]))
        done, results = set(), {}

        def ready(job):
            init = self.runs[job[0]].get('init')
            return init is None or (init, job[1]) in done

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            running = {}
            while todo or running:
                for job in [j for j in todo if ready(j)]:
                    if len(running) >= max(1, jobs):
                        break
                    todo.remove(job)
                    running[pool.submit(self.train_and_test, *job)] = job
                if not running:
                    raise RuntimeError(f'runs wait for unknown starts: {todo}')
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    results[job] = future.result()
                    done.add(job)
        return results


def iteration_offsets(runs, seed, work_root):
    """Per run: the iterations trained before it (its chain of starts) and
    its own, from the checkpoints of ``seed``."""
    own = {n: checkpoint_iters(run_dir(work_root, n, seed)) for n in runs}
    offsets = {}
    for name, run in runs.items():
        offset, init = 0, run.get('init')
        while init:
            offset += own[init]
            init = runs[init].get('init')
        offsets[name] = offset
    return offsets, own


def budgets_and_curves(runs, seeds, work_root):
    """Per run: its iterations as text (``'800 + 400'``: the starts' then
    its own) and the plot entry ``(offset, curves)``."""
    offsets, own = iteration_offsets(runs, seeds[0], work_root)
    iterations, curves = {}, {}
    for name, run in runs.items():
        chain, init = [own[name]], run.get('init')
        while init:
            chain.insert(0, own[init])
            init = runs[init].get('init')
        iterations[name] = ' + '.join(map(str, chain))
        seed_curves = []
        for seed in seeds:
            curve = read_val_curve(run_dir(work_root, name, seed))
            if run.get('init') and curve:
                # continue from the start's last validation
                prev = read_val_curve(run_dir(work_root, run['init'], seed))
                if prev and prev[-1][0] == own[run['init']]:
                    curve = [(0, prev[-1][1])] + curve
            seed_curves.append(curve)
        curves[name] = (offsets[name], seed_curves)
    return iterations, curves


def report(args, runs, baseline, oracle, pairs, results, wall_s):
    """The markdown report text."""
    rows = {n: [results[(n, s)] for s in args.seeds]
            for n, r in runs.items() if r['row']}
    iterations, curves = budgets_and_curves(runs, args.seeds, args.work_root)
    timings = {n: [_read_timing(run_dir(args.work_root, n, s))
                   for s in args.seeds] for n in runs}
    title = args.title or 'Target-domain results'
    pairs = [p for p in pairs if p[0] in rows and p[1] in rows]
    parts = [
        f'{title} (seeds {args.seeds}; mean ± std over seeds)\n',
        accuracy_table(rows, baseline, oracle, iterations), '',
        'Paired per-seed differences of mIoU (method - reference; mean ± '
        'std over seeds). An ordering is stated only where |mean| > std.\n',
        # a --runs selection without the baseline has no baseline column
        paired_differences_table(rows, baseline if baseline in rows else None,
                                 pairs), '',
        f'Wall time per run (training including its validations, a '
        f'separate test where the last validation could not stand for it, '
        f'and pseudo labels; mean over seeds, {args.jobs} run(s) at a time '
        f'on {os.cpu_count()} cores); whole benchmark: {wall_s / 60:.1f} '
        f'min.\n',
        timing_table(timings, iterations)
    ]
    return '\n'.join(parts), curves


def _read_timing(work_dir):
    """The run's ``timing.json`` ({} when missing); ``test_s`` of runs
    finished before the last validation replaced the test is their
    ``separate_test_s``."""
    path = osp.join(work_dir, 'timing.json')
    if not osp.exists(path):
        return {}
    with open(path) as f:
        timing = json.load(f)
    if 'test_s' in timing:
        timing['separate_test_s'] = timing.pop('test_s')
    return timing


def main():
    args = parse_args()
    runs, baseline, oracle, pairs = load_manifest(args.manifest)
    if args.runs:
        runs = with_dependencies(runs, args.runs)
    env = dict(os.environ)
    if args.jobs > 1 and 'OMP_NUM_THREADS' not in env:
        env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) //
                                         args.jobs))
    t0 = time.time()
    results = Runner(runs, args.work_root, args.cfg_options,
                     env).run_all(args.seeds, args.jobs)
    if not any(run['row'] for run in runs.values()):
        print(f'[bench] trained {", ".join(runs)}: starts only, no table '
              'row among them, so no report', flush=True)
        return
    text, curves = report(args, runs, baseline, oracle, pairs, results,
                          time.time() - t0)
    print('\n' + text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    if args.plot:
        os.makedirs(osp.dirname(osp.abspath(args.plot)), exist_ok=True)
        plot_curves(curves, args.plot, title=args.title)
        print(f'[bench] curves written to {args.plot}')


if __name__ == '__main__':
    main()
