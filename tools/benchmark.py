"""Step time, data time, overhead ratios and peak memory of the UDA methods.

For the configs of AdaptSegNet, MRNet, ABN and SAC (the synthetic benchmark
by default), measured side by side in one process:

- the median step time of each config's ``train_step`` (plus the EMA teacher
  update) on identical random batches of the config's crop size;
- ``mrnet / adaptsegnet``: what memory regularisation adds to an adversarial
  step (MR reuses the target forward pass; aim <= 1.03);
- ``sac extra``: the share of a SAC step spent outside its network passes
  (view building, photometric noise, fusion, thresholds, EMA update), found by
  timing the same forward/backward passes on the same tensors in a bare loop
  (aim <= 10%);
- the data time of the config's real ``train_dataloader`` (its workers, its
  pipeline, the data of ``data/synthetic``): the wait in ``next(iterator)``
  before each ``train_step`` on the loaded batch, as a share of the step
  (means over the steps, so that occasional stalls count; aim <= 5%).
  ``--no-data`` skips it;
- the peak memory of each method's training step, each in a fresh
  subprocess holding only that model (``--no-memory`` skips it): on a GPU
  ``torch.cuda.max_memory_allocated`` (model, teacher, optimizer state,
  gradients and the step's tensors); on the CPU the peak resident set size
  (``VmHWM``) minus the resident size right before the model was built
  (the same things, plus what the allocator keeps; the Python/torch runtime
  excluded). From it the teacher's memory overhead, a SAC step vs an ABN
  step at the same batch (the SAC paper reports about 35% for its teacher;
  our aim is lower), and as a sanity figure the parameter + buffer bytes of
  the teacher vs the student.

Configs are timed interleaved (A B A B ...) so that drift of the machine
affects them alike. Run it from the repository root (the configs' data
paths are relative). Usage::

    python tools/benchmark.py [--steps 20] [--warmup 3] [--batch-size 2]
        [--data-steps N] [--no-data] [--memory-steps 2] [--no-memory]
        [--out FILE] [--adaptsegnet CFG] [--mrnet CFG] [--abn CFG]
        [--sac CFG] [--cfg-options k=v ...]
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
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MessageHub  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmseg_uda.engine.hooks.run_seed_hook import (  # noqa: E402
    hand_over_run_seed)
from mmseg_uda.models.uda.student_outputs import (  # noqa: E402
    forward_heads, head_losses)
from mmseg_uda.utils.device_config import adapt_cfg_to_device  # noqa: E402

CONFIGS = dict(
    adaptsegnet='configs/synthetic/adaptsegnet.py',
    mrnet='configs/synthetic/mrnet.py',
    abn='configs/synthetic/abn.py',
    sac='configs/synthetic/sac.py')
MIB = 2**20
# aims of the ratios (see the module doc)
AIM_MR_RATIO = 1.03
AIM_SAC_EXTRA = 0.10
AIM_DATA_SHARE = 0.05
PAPER_TEACHER_OVERHEAD = 0.35


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=20,
                        help='timed steps per config (random batches)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=2,
                        help='images per domain in every batch (the same for '
                        'all methods, so that step times and memory compare)')
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
    for name, path in CONFIGS.items():
        parser.add_argument(f'--{name}', default=path)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    # internal: one peak-memory measurement in this (fresh) process
    parser.add_argument('--memory-child', choices=list(CONFIGS),
                        help=argparse.SUPPRESS)
    # internal: the child runs SAC's bare passes, with or without teacher
    parser.add_argument('--memory-bare', choices=['teacher', 'no-teacher'],
                        help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
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
        self.device = torch.device(device)

    def sync(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()

    def step_on(self, batch) -> float:
        """One training step (and teacher update) on ``batch``, seconds."""
        self.sync()
        t0 = time.perf_counter()
        self.model.train_step(batch, self.optim)
        if getattr(self.model, 'teacher', None) is not None:
            self.model.teacher.update_parameters(self.model.segmentor)
        self.sync()
        return time.perf_counter() - t0

    def step(self) -> float:
        """One training step on the fixed random batch, seconds."""
        return self.step_on(self.batch)

    def build_dataloader(self):
        """The config's train dataloader at the benchmark's batch size."""
        loader_cfg = copy.deepcopy(self.cfg.train_dataloader)
        loader_cfg['batch_size'] = self.batch_size
        return Runner.build_dataloader(loader_cfg, seed=0)


def bare_sac_step(bench, with_teacher: bool = True):
    """SAC's network passes alone, on tensors of the same shapes: teacher
    forward on the clean views (unless ``with_teacher`` is False), student
    forward/backward on source and the noisy views, one optimizer step."""
    model = bench.model
    data = model.data_preprocessor(bench.batch, True)
    views = model.self_training.views.num_views
    tgt = data['target_inputs'].repeat_interleave(views, dim=0)
    seg_wrapper = bench.optim['segmentor']
    bench.sync()
    t0 = time.perf_counter()
    if with_teacher:
        with torch.no_grad():
            forward_heads(model.teacher.module, tgt)
    src_out = forward_heads(model.segmentor, data['inputs'])
    loss = sum(v for k, v in head_losses(model.segmentor, src_out,
                                         data['data_samples']).items()
               if 'loss' in k)
    tgt_out = forward_heads(model.segmentor, tgt)
    logits = F.interpolate(tgt_out.primary, tgt.shape[-2:], mode='bilinear',
                           align_corners=True)
    loss = loss + logits.float().log_softmax(1).mean()
    if tgt_out.aux is not None:
        aux = F.interpolate(tgt_out.aux, tgt.shape[-2:], mode='bilinear',
                            align_corners=True)
        loss = loss + 0.5 * aux.float().log_softmax(1).mean()
    seg_wrapper.update_params(loss)
    bench.sync()
    return time.perf_counter() - t0


def interleaved(fns, steps, warmup):
    """Run each callable ``warmup`` times, then ``steps`` rounds A B A B;
    the median time of each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(steps):
        for k, fn in fns.items():
            times[k].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


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
            step = bench.step_on(batch)
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
    bench = Bench(name, getattr(args, name), device, args.batch_size,
                  args.cfg_options)
    built = current_rss_bytes()
    for _ in range(max(1, args.memory_steps)):
        if args.memory_bare:
            bare_sac_step(bench, with_teacher=args.memory_bare == 'teacher')
        else:
            bench.step()
    teacher = getattr(bench.model, 'teacher', None)
    return dict(
        name=name,
        device=device,
        rss_before_model=before,
        rss_model_built=built,
        peak_rss=peak_rss_bytes(),
        cpu_peak=peak_rss_bytes() - before,
        cuda_peak=(torch.cuda.max_memory_allocated()
                   if device == 'cuda' else None),
        student_bytes=tensor_bytes(bench.model.segmentor),
        teacher_bytes=(tensor_bytes(teacher.module)
                       if teacher is not None else None))


def measure_memory(name: str, args, extra_options: Sequence[str] = (),
                   bare: Optional[str] = None) -> dict:
    """:func:`memory_child` of ``name`` in a fresh Python process (the peak
    resident size only grows, so every config needs its own process), with
    ``extra_options`` added to the ``--cfg-options``."""
    cmd = [sys.executable, osp.abspath(__file__), '--memory-child', name,
           f'--{name}', getattr(args, name), '--batch-size',
           str(args.batch_size), '--memory-steps', str(args.memory_steps)]
    if bare:
        cmd += ['--memory-bare', bare]
    options = list(args.raw_cfg_options) + list(extra_options)
    if options:
        cmd += ['--cfg-options'] + options
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


def report(step: Dict[str, float], bare: float,
           data: Optional[Dict[str, Dict[str, List[float]]]],
           memory: Optional[Dict[str, dict]], header: Sequence[str],
           device: str) -> str:
    """The markdown report: one row per method, then the ratios."""
    lines = list(header)
    lines += ['| method | step (median) | data wait (mean) | data / step '
              '| peak memory |', '|---|---|---|---|---|']
    shares = {}
    for k in CONFIGS:
        wait = share = peak = None
        if data is not None:
            wait = statistics.fmean(data[k]['data'])
            share = shares[k] = data_share(data[k]['data'], data[k]['step'])
        if memory is not None:
            peak = peak_of(memory[k])
        lines.append(f'| {k} | {_ms(step[k])} | {_ms(wait)} | {_pct(share)} '
                     f'| {_mib(peak)} |')
    lines.append(f'| SAC network passes alone | {_ms(bare)} | | | |')

    lines += ['', '| ratio | value | aim |', '|---|---|---|']
    mr = ratio(step['mrnet'], step['adaptsegnet'])
    lines.append(f'| MRNet / AdaptSegNet step | {mr:.3f} | '
                 f'<= {AIM_MR_RATIO:.2f} |')
    lines.append(f'| SAC extra work / SAC step | '
                 f'{_pct(extra_share(step["sac"], bare))} | '
                 f'<= {AIM_SAC_EXTRA * 100:.0f}% |')
    if data is not None:
        worst = max(shares, key=shares.get)
        lines.append(f'| data time / step time (largest: {worst}) | '
                     f'{_pct(shares[worst])} | '
                     f'<= {AIM_DATA_SHARE * 100:.0f}% |')
    else:
        lines.append('| data time / step time | not measured (--no-data) '
                     '| |')
    if memory is not None:
        abn, sac = peak_of(memory['abn']), peak_of(memory['sac'])
        what = ('torch.cuda.max_memory_allocated' if device == 'cuda' else
                'peak RSS growth')
        lines.append(f'| SAC / ABN step peak memory ({what}) | '
                     f'{_mib(sac)} / {_mib(abn)} = '
                     f'{overhead(sac, abn) * 100:+.1f}% | '
                     f'(8 student views vs 2 images) |')
        one = peak_of(memory['sac_1view']) if 'sac_1view' in memory \
            else None
        if one is not None:
            lines.append(f'| SAC with 1 view per image / ABN step peak '
                         f'memory | {_mib(one)} / {_mib(abn)} = '
                         f'{overhead(one, abn) * 100:+.1f}% | |')
        if 'bare_teacher' in memory:
            with_t = peak_of(memory['bare_teacher'])
            without = peak_of(memory['bare_no_teacher'])
            lines.append(f'| teacher memory overhead: SAC passes with / '
                         f'without the teacher forward | {_mib(with_t)} / '
                         f'{_mib(without)} = '
                         f'{overhead(with_t, without) * 100:+.1f}% | '
                         f'< +{PAPER_TEACHER_OVERHEAD * 100:.0f}% (paper) |')
        s_bytes = memory['sac']['student_bytes']
        t_bytes = memory['sac']['teacher_bytes']
        if t_bytes is not None:
            lines.append(f'| teacher / student parameters + buffers | '
                         f'{_mib(t_bytes)} / {_mib(s_bytes)} = '
                         f'{ratio(t_bytes, s_bytes):.2f} | |')
    else:
        lines.append('| peak memory | not measured (--no-memory) | |')
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
        name: Bench(name, getattr(args, name), device, args.batch_size,
                    args.cfg_options)
        for name in CONFIGS
    }
    data_steps = args.steps if args.data_steps is None else args.data_steps
    header = [
        f'device: {device} '
        f'({torch.cuda.get_device_name() if device == "cuda" else "CPU"}'
        f', {torch.get_num_threads()} threads), torch {torch.__version__}',
        f'batch: {args.batch_size} images per domain; steps: {args.steps} '
        f'after {args.warmup} warm-up, interleaved, median'
        + ('' if args.no_data else
           f'; data: {data_steps} steps with the configs\' train_dataloader')
        + ('' if args.no_memory else
           f'; peak memory: {args.memory_steps} steps per method in a fresh '
           'process'), ''
    ]

    t = interleaved(dict(adaptsegnet=benches['adaptsegnet'].step,
                         mrnet=benches['mrnet'].step), args.steps, args.warmup)
    sac = benches['sac']
    t.update(interleaved(dict(abn=benches['abn'].step, sac=sac.step,
                              bare=lambda: bare_sac_step(sac)), args.steps,
                         args.warmup))
    bare = t.pop('bare')
    data = None
    if not args.no_data:
        data = data_times(benches, data_steps, max(1, args.warmup))
    memory = None
    if not args.no_memory:
        del benches  # the subprocesses need the memory more than we do
        memory = {k: measure_memory(k, args) for k in CONFIGS}
        # SAC with the full view only: how much of its excess over ABN is
        # the multi-view student batch rather than the teacher
        memory['sac_1view'] = measure_memory(
            'sac', args, ['model.self_training.views.num_views=1'])
        # the teacher alone: SAC's network passes with and without the
        # teacher's forward pass (same student work, same batch)
        memory['bare_teacher'] = measure_memory('sac', args, bare='teacher')
        memory['bare_no_teacher'] = measure_memory('sac', args,
                                                   bare='no-teacher')

    text = report(t, bare, data, memory, header, device)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
