"""Step time, data time, overhead ratios and peak memory of UDA configs.

For the configs given as ``name=path`` (default: AdaptSegNet, MRNet, ABN and
SAC of the synthetic benchmark), measured side by side in one process:

- the median time of each config's real ``train_step`` (plus the EMA
  teacher update, as ``EMATeacherHook`` does) on identical random batches
  of the config's crop size;
- inside that same step, the time of its network passes: the forward
  passes of the student and of the teacher (``extract_feat`` and the heads'
  ``forward``, as ``forward_heads`` calls them) and of the discriminators,
  every ``backward`` and every optimizer ``step`` of the config's optimizer
  wrappers, timed by wrapping those calls on the built model (no
  re-implemented step, nothing changed in the model code). The rest of the
  step is the method's extra work (for SAC: views, photometric noise,
  fusion, thresholds, EMA update; aim <= 10%);
- ``--ratio A/B`` (default ``mrnet/adaptsegnet``, what memory
  regularisation adds to an adversarial step; aim <= 1.03): step-time
  ratios of named configs;
- the data time of the config's real ``train_dataloader`` (its workers, its
  pipeline, the data of ``data/synthetic``): the wait in ``next(iterator)``
  before each ``train_step`` on the loaded batch, as a share of the step
  (means over the steps, so that occasional stalls count; aim <= 5%).
  ``--no-data`` skips it;
- the peak memory of each config's training step, each in a fresh
  subprocess holding only that model (``--no-memory`` skips it): on a GPU
  ``torch.cuda.max_memory_allocated`` (model, teacher, optimizer state,
  gradients and the step's tensors); on the CPU the peak resident set size
  (``VmHWM``) minus the resident size right before the model was built
  (the same things, plus what the allocator keeps; the Python/torch runtime
  excluded). ``--memory-ratio A/B`` (default ``sac/abn``: a SAC step vs an
  ABN step at the same batch; the SAC paper reports about 35% for its
  teacher) compares two of them, and for every config with a teacher the
  parameter + buffer bytes of the teacher vs the student are reported.

Configs are timed interleaved (A B A B ...) so that drift of the machine
affects them alike. On a GPU every timed call synchronises the device
before and after. Run it from the repository root (the configs' data paths
are relative). Usage::

    python tools/benchmark.py [NAME=CONFIG ...] [--steps 20] [--warmup 3]
        [--batch-size 2] [--ratio A/B ...] [--memory-ratio A/B]
        [--data-steps N] [--no-data] [--memory-steps 2] [--no-memory]
        [--out FILE] [--cfg-options k=v ...]
"""
import argparse
import copy
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MessageHub  # noqa: E402
from mmengine.optim import OptimWrapperDict, build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmseg_uda.engine.hooks.run_seed_hook import (  # noqa: E402
    hand_over_run_seed)
from mmseg_uda.utils.device_config import adapt_cfg_to_device  # noqa: E402

DEFAULT_CONFIGS = dict(
    adaptsegnet='configs/synthetic/adaptsegnet.py',
    mrnet='configs/synthetic/mrnet.py',
    abn='configs/synthetic/abn.py',
    sac='configs/synthetic/sac.py')
DEFAULT_RATIOS = ('mrnet/adaptsegnet', )
DEFAULT_MEMORY_RATIO = 'sac/abn'
MIB = 2**20
# aims (see the module doc)
AIM_MR_RATIO = 1.03
AIM_EXTRA = 0.10
AIM_DATA_SHARE = 0.05
PAPER_TEACHER_OVERHEAD = 0.35
#: the timed sections of a step (see :class:`SectionTimer`)
SECTIONS = ('student forward', 'teacher forward', 'discriminator forward',
            'backward', 'optimizer step')


def named_config(text: str) -> Tuple[str, str]:
    """``name=path`` -> ``(name, path)``."""
    name, sep, path = text.partition('=')
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(
            f'expected NAME=CONFIG (e.g. sac=configs/synthetic/sac.py), '
            f'got {text!r}')
    return name, path


def name_pair(text: str) -> Tuple[str, str]:
    """``a/b`` -> ``(a, b)``."""
    a, sep, b = text.partition('/')
    if not sep or not a or not b:
        raise argparse.ArgumentTypeError(f'expected A/B, got {text!r}')
    return a, b


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', type=named_config,
                        metavar='NAME=CONFIG',
                        help='configs to measure (default: ' + ' '.join(
                            f'{k}={v}' for k, v in DEFAULT_CONFIGS.items())
                        + ')')
    parser.add_argument('--steps', type=int, default=20,
                        help='timed steps per config (random batches)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=2,
                        help='images per domain in every batch (the same for '
                        'all methods, so that step times and memory compare)')
    parser.add_argument('--ratio', action='append', type=name_pair,
                        help='step-time ratio A/B of two named configs '
                        '(repeatable; default: ' + ', '.join(DEFAULT_RATIOS)
                        + ', where both are measured)')
    parser.add_argument('--memory-ratio', type=name_pair,
                        default=name_pair(DEFAULT_MEMORY_RATIO),
                        help='peak-memory ratio A/B (default: '
                        f'{DEFAULT_MEMORY_RATIO}, where both are measured)')
    parser.add_argument('--data-steps', type=int, default=None,
                        help='timed steps per config with the real '
                        'dataloader (default: --steps)')
    parser.add_argument('--no-data', action='store_true',
                        help='skip the data-time measurement')
    parser.add_argument('--memory-steps', type=int, default=2,
                        help='steps of each peak-memory subprocess')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory subprocesses')
    parser.add_argument('--out', help='write the markdown tables here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    # internal: one peak-memory measurement in this (fresh) process
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.configs = dict(args.configs) or dict(DEFAULT_CONFIGS)
    explicit = args.ratio is not None
    args.ratio = args.ratio or [name_pair(r) for r in DEFAULT_RATIOS]
    unknown = [f'{a}/{b}' for a, b in args.ratio
               if a not in args.configs or b not in args.configs]
    if unknown and explicit:
        parser.error(f'--ratio {unknown} names configs that are not measured '
                     f'({sorted(args.configs)})')
    args.ratio = [(a, b) for a, b in args.ratio
                  if a in args.configs and b in args.configs]
    # the --cfg-options as given, for the memory subprocesses
    args.raw_cfg_options = []
    if '--cfg-options' in argv:
        for token in argv[argv.index('--cfg-options') + 1:]:
            if token.startswith('--'):
                break
            args.raw_cfg_options.append(token)
    return args


# ----------------------------------------------------------------------------
# measures (pure functions)
# ----------------------------------------------------------------------------


def ratio(value: float, reference: float) -> float:
    """``value / reference``."""
    return value / reference


def extra_share(step: float, bare: float) -> float:
    """Share of a step spent outside its network passes:
    ``(step - bare) / step``."""
    return (step - bare) / step


def data_share(data_times: Sequence[float],
               step_times: Sequence[float]) -> float:
    """Mean data wait over mean step time. Means, not medians: a loader
    that stalls every few steps costs that time on average."""
    return statistics.fmean(data_times) / statistics.fmean(step_times)


def overhead(value: float, reference: float) -> float:
    """Relative excess of ``value`` over ``reference``:
    ``value / reference - 1``."""
    return value / reference - 1


def _proc_status_bytes(field: str) -> Optional[int]:
    """A ``kB`` field of ``/proc/self/status`` in bytes (None without
    procfs)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes.

    Linux: ``VmHWM``, the high-water mark of this program's memory map.
    Not ``ru_maxrss``: the kernel carries that over an ``exec`` from the
    forked parent, so a subprocess would report at least its parent's
    size. Elsewhere ``ru_maxrss`` (KiB, bytes on macOS).
    """
    peak = _proc_status_bytes('VmHWM')
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == 'darwin' else peak * 1024


def current_rss_bytes() -> int:
    """Resident set size of this process now, in bytes (``VmRSS``; where
    procfs does not exist, the peak so far)."""
    rss = _proc_status_bytes('VmRSS')
    return rss if rss is not None else peak_rss_bytes()


def tensor_bytes(module: torch.nn.Module) -> int:
    """Bytes of the parameters and buffers of ``module``."""
    return sum(t.numel() * t.element_size()
               for t in list(module.parameters()) + list(module.buffers()))


# ----------------------------------------------------------------------------
# one config
# ----------------------------------------------------------------------------


class SectionTimer:
    """Times the network passes inside a model's real ``train_step``.

    Wraps, on the built objects (instance attributes, nothing in the model
    code changes), the calls a UDA step makes for its network passes:
    ``extract_feat`` and the heads' ``forward`` of the student and of the
    teacher (what ``forward_heads`` calls), every discriminator's forward
    (a forward pre-/post-hook), and ``backward`` / ``step`` of every optimizer
    wrapper. Each call adds its duration (and one count) to its section in
    :data:`SECTIONS`; :meth:`reset` starts a new step.

    Args:
        model: A built ``UDASegmentor`` (or any mmseg segmentor).
        optim: Its optimizer wrapper (dict).
        sync (callable): Synchronises the device before and after each
            timed call (a no-op on the CPU).
    """

    def __init__(self, model, optim, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.seconds: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self._depth = 0
        student = getattr(model, 'segmentor', model)
        self._wrap_network(student, 'student forward')
        teacher = getattr(model, 'teacher', None)
        if teacher is not None:
            self._wrap_network(teacher.module, 'teacher forward')
        adversary = getattr(model, 'adversary', None)
        if adversary is not None:
            for disc in adversary.discriminators.values():
                self._hook(disc, 'discriminator forward')
        wrappers = optim.values() if isinstance(optim, OptimWrapperDict) \
            else [optim]
        for wrapper in wrappers:
            self._wrap(wrapper, 'backward', 'backward')
            self._wrap(wrapper, 'step', 'optimizer step')

    def _wrap_network(self, segmentor, section: str) -> None:
        self._wrap(segmentor, 'extract_feat', section)
        heads = [segmentor.decode_head]
        aux = getattr(segmentor, 'auxiliary_head', None)
        if aux is not None:
            heads += list(aux) if isinstance(aux, torch.nn.ModuleList) \
                else [aux]
        for head in heads:
            self._wrap(head, 'forward', section)

    def _wrap(self, obj, attr: str, section: str) -> None:
        inner = getattr(obj, attr)

        def timed(*args, **kwargs):
            if self._depth:  # a section inside a section: counted once
                return inner(*args, **kwargs)
            self._depth += 1
            self.sync()
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.sync()
                self.seconds[section] += time.perf_counter() - t0
                self.calls[section] += 1
                self._depth -= 1

        setattr(obj, attr, timed)

    def _hook(self, module, section: str) -> None:
        start = {}

        def pre(mod, args):
            self.sync()
            start['t'] = time.perf_counter()

        def post(mod, args, out):
            self.sync()
            self.seconds[section] += time.perf_counter() - start['t']
            self.calls[section] += 1

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def total(self) -> float:
        """Seconds of all network passes since :meth:`reset`."""
        return sum(self.seconds.values())


class Bench:
    """One config's model, optimizer wrappers and a fixed random batch."""

    def __init__(self, name, cfg_path, device, batch_size, cfg_options):
        cfg = Config.fromfile(cfg_path)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        adapt_cfg_to_device(cfg)
        self.name = name
        self.cfg = cfg
        self.batch_size = batch_size or cfg.train_dataloader.batch_size
        self.model = MODELS.build(cfg.model).to(device)
        self.model.train()
        # what RunSeedHook does in a training run
        hand_over_run_seed(self.model,
                           cfg.get('randomness', {}).get('seed') or 0)
        self.optim = build_optim_wrapper(self.model, cfg.optim_wrapper)
        self.device = torch.device(device)
        self.timer = SectionTimer(self.model, self.optim, self.sync)
        h, w = cfg.model.data_preprocessor['size']
        b = self.batch_size
        num_classes = self.model.num_classes
        g = torch.Generator().manual_seed(0)

        def images():
            return [torch.randint(0, 256, (3, h, w), generator=g,
                                  dtype=torch.uint8) for _ in range(b)]

        def samples():
            out = []
            for _ in range(b):
                s = SegDataSample()
                s.gt_sem_seg = PixelData(data=torch.randint(
                    0, num_classes, (1, h, w), generator=g))
                s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w),
                                    pad_shape=(h, w)))
                out.append(s)
            return out

        self.batch = dict(inputs=images(), data_samples=samples(),
                          target_inputs=images(),
                          target_data_samples=samples())

    def sync(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()

    def step_on(self, batch) -> Tuple[float, float]:
        """One training step (and teacher update) on ``batch``: seconds of
        the step and of its network passes."""
        self.timer.reset()
        self.sync()
        t0 = time.perf_counter()
        self.model.train_step(batch, self.optim)
        if getattr(self.model, 'teacher', None) is not None:
            self.model.teacher.update_parameters(self.model.segmentor)
        self.sync()
        return time.perf_counter() - t0, self.timer.total()

    def step(self) -> Tuple[float, float]:
        """One training step on the fixed random batch (see
        :meth:`step_on`)."""
        return self.step_on(self.batch)

    def build_dataloader(self):
        """The config's train dataloader at the benchmark's batch size."""
        loader_cfg = copy.deepcopy(self.cfg.train_dataloader)
        loader_cfg['batch_size'] = self.batch_size
        return Runner.build_dataloader(loader_cfg, seed=0)


def interleaved(fns, steps, warmup):
    """Run each callable ``warmup`` times, then ``steps`` rounds A B A B.
    Each returns ``(step seconds, network seconds)``; the result is the
    median of each per name: ``{name: (step, network)}``."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(steps):
        for k, fn in fns.items():
            times[k].append(fn())
    return {k: (statistics.median(t for t, _ in v),
                statistics.median(n for _, n in v))
            for k, v in times.items()}


def data_times(benches: Dict[str, Bench], steps: int,
               warmup: int) -> Dict[str, Dict[str, List[float]]]:
    """Data wait and step time of every config with its real dataloader,
    interleaved: per round and config, ``next(iterator)`` (timed) then a
    ``train_step`` on that batch (timed). The warm-up rounds (worker start,
    first batches) are not recorded.

    Returns:
        dict: ``{name: {'data': [s, ...], 'step': [s, ...]}}``.
    """
    iters = {k: iter(b.build_dataloader()) for k, b in benches.items()}
    out = {k: dict(data=[], step=[]) for k in benches}
    for i in range(warmup + steps):
        for k, bench in benches.items():
            t0 = time.perf_counter()
            batch = next(iters[k])
            wait = time.perf_counter() - t0
            step, _ = bench.step_on(batch)
            if i >= warmup:
                out[k]['data'].append(wait)
                out[k]['step'].append(step)
    del iters  # shuts the workers down
    return out


# ----------------------------------------------------------------------------
# peak memory (one fresh subprocess per config)
# ----------------------------------------------------------------------------


def memory_child(args) -> dict:
    """Build one config's model and run its steps in this process; the
    peak memory figures (bytes) as a dict."""
    name = args.memory_child
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    before = current_rss_bytes()
    bench = Bench(name, args.configs[name], device, args.batch_size,
                  args.cfg_options)
    built = current_rss_bytes()
    for _ in range(max(1, args.memory_steps)):
        bench.step()
    teacher = getattr(bench.model, 'teacher', None)
    student = getattr(bench.model, 'segmentor', bench.model)
    return dict(
        name=name,
        device=device,
        rss_before_model=before,
        rss_model_built=built,
        peak_rss=peak_rss_bytes(),
        cpu_peak=peak_rss_bytes() - before,
        cuda_peak=(torch.cuda.max_memory_allocated()
                   if device == 'cuda' else None),
        student_bytes=tensor_bytes(student),
        teacher_bytes=(tensor_bytes(teacher.module)
                       if teacher is not None else None))


def measure_memory(name: str, args) -> dict:
    """:func:`memory_child` of ``name`` in a fresh Python process (the peak
    resident size only grows, so every config needs its own process)."""
    cmd = [sys.executable, osp.abspath(__file__), '--memory-child', name,
           f'{name}={args.configs[name]}', '--batch-size',
           str(args.batch_size), '--memory-steps', str(args.memory_steps)]
    if args.raw_cfg_options:
        cmd += ['--cfg-options'] + list(args.raw_cfg_options)
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', str(torch.get_num_threads()))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'memory measurement of {name} failed:\n'
                           f'{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_of(record: dict) -> int:
    """The peak memory of a :func:`memory_child` record: GPU allocation
    where measured, else CPU resident-size growth."""
    if record.get('cuda_peak') is not None:
        return record['cuda_peak']
    return record['cpu_peak']


# ----------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------


def _ms(seconds: Optional[float]) -> str:
    return '' if seconds is None else f'{seconds * 1000:.1f} ms'


def _pct(x: Optional[float]) -> str:
    return '' if x is None else f'{x * 100:.1f}%'


def _mib(n: Optional[int]) -> str:
    return '' if n is None else f'{n / MIB:.0f} MiB'


def report(times: Dict[str, Tuple[float, float]],
           data: Optional[Dict[str, Dict[str, List[float]]]],
           memory: Optional[Dict[str, dict]], header: Sequence[str],
           device: str, ratios: Sequence[Tuple[str, str]] = (),
           memory_ratio: Optional[Tuple[str, str]] = None) -> str:
    """The markdown report: one row per config (step, network passes, extra
    work, data wait, peak memory), then the ratios.

    Args:
        times (dict): ``{name: (step seconds, network seconds)}``.
        data (dict, optional): From :func:`data_times`.
        memory (dict, optional): ``{name: memory_child record}``.
        header (Sequence[str]): Lines before the tables.
        device (str): ``'cpu'`` or ``'cuda'``.
        ratios (Sequence[tuple]): Step-time ratios ``(a, b)`` to report.
        memory_ratio (tuple, optional): Peak-memory ratio ``(a, b)``.
    """
    lines = list(header)
    lines += ['| method | step (median) | network passes | extra work '
              '| data wait (mean) | data / step | peak memory |',
              '|---|---|---|---|---|---|---|']
    shares = {}
    for k, (step, network) in times.items():
        wait = share = peak = None
        if data is not None:
            wait = statistics.fmean(data[k]['data'])
            share = shares[k] = data_share(data[k]['data'], data[k]['step'])
        if memory is not None:
            peak = peak_of(memory[k])
        lines.append(f'| {k} | {_ms(step)} | {_ms(network)} | '
                     f'{_pct(extra_share(step, network))} | {_ms(wait)} | '
                     f'{_pct(share)} | {_mib(peak)} |')

    lines += ['', '| ratio | value | aim |', '|---|---|---|']
    for a, b in ratios:
        aim = f'<= {AIM_MR_RATIO:.2f}' if (a, b) == ('mrnet',
                                                      'adaptsegnet') else ''
        lines.append(f'| {a} / {b} step | '
                     f'{ratio(times[a][0], times[b][0]):.3f} | {aim} |')
    worst = max(times, key=lambda k: extra_share(*times[k]))
    lines.append(f'| extra work / step (largest: {worst}) | '
                 f'{_pct(extra_share(*times[worst]))} | '
                 f'<= {AIM_EXTRA * 100:.0f}% |')
    if data is not None:
        worst = max(shares, key=shares.get)
        lines.append(f'| data time / step time (largest: {worst}) | '
                     f'{_pct(shares[worst])} | '
                     f'<= {AIM_DATA_SHARE * 100:.0f}% |')
    else:
        lines.append('| data time / step time | not measured (--no-data) '
                     '| |')
    if memory is None:
        lines.append('| peak memory | not measured (--no-memory) | |')
        return '\n'.join(lines)
    if memory_ratio is not None and set(memory_ratio) <= set(memory):
        a, b = memory_ratio
        pa, pb = peak_of(memory[a]), peak_of(memory[b])
        what = ('torch.cuda.max_memory_allocated' if device == 'cuda' else
                'peak RSS growth')
        lines.append(f'| {a} / {b} step peak memory ({what}) | '
                     f'{_mib(pa)} / {_mib(pb)} = '
                     f'{overhead(pa, pb) * 100:+.1f}% | whole steps (views, '
                     'teacher, noise); not the SAC paper\'s teacher-only '
                     f'< +{PAPER_TEACHER_OVERHEAD * 100:.0f}% |')
    for k, rec in memory.items():
        t_bytes, s_bytes = rec.get('teacher_bytes'), rec['student_bytes']
        if t_bytes is not None:
            lines.append(f'| {k}: teacher / student parameters + buffers | '
                         f'{_mib(t_bytes)} / {_mib(s_bytes)} = '
                         f'{ratio(t_bytes, s_bytes):.2f} | |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None):
    args = parse_args(argv)
    init_default_scope('mmseg')
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 10**6)  # past every warm-up (MR is on)
    if args.memory_child:
        print(json.dumps(memory_child(args)))
        return
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    benches = {
        name: Bench(name, path, device, args.batch_size, args.cfg_options)
        for name, path in args.configs.items()
    }
    data_steps = args.steps if args.data_steps is None else args.data_steps
    header = [
        f'device: {device} '
        f'({torch.cuda.get_device_name() if device == "cuda" else "CPU"}'
        f', {torch.get_num_threads()} threads), torch {torch.__version__}',
        'configs: ' + ', '.join(f'{k}={v}' for k, v in args.configs.items()),
        f'batch: {args.batch_size} images per domain; steps: {args.steps} '
        f'after {args.warmup} warm-up, interleaved, median'
        + ('' if args.no_data else
           f'; data: {data_steps} steps with the configs\' train_dataloader')
        + ('' if args.no_memory else
           f'; peak memory: {args.memory_steps} steps per method in a fresh '
           'process'), ''
    ]
    times = interleaved({k: b.step for k, b in benches.items()}, args.steps,
                        args.warmup)
    data = None
    if not args.no_data:
        data = data_times(benches, data_steps, max(1, args.warmup))
    memory = None
    if not args.no_memory:
        del benches  # the subprocesses need the memory more than we do
        memory = {k: measure_memory(k, args) for k in args.configs}
    text = report(times, data, memory, header, device, args.ratio,
                  args.memory_ratio)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
