"""Step time, overhead ratios and peak memory of the UDA methods.

Measured side by side in one process on identical random batches of the
config's crop size (data loading excluded; see ``--with-data`` for the data
time of the real dataloader):

- the median step time of each config's ``train_step``;
- ``mrnet / adaptsegnet``: what memory regularisation adds to an adversarial
  step (MR reuses the target forward pass; aim <= 1.03);
- ``sac extra``: the share of a SAC step spent outside its network passes
  (view building, photometric noise, fusion, thresholds, EMA update), found by
  timing the same forward/backward passes on the same tensors in a bare loop
  (aim <= 10%);
- the teacher's memory overhead (GPU only: ``torch.cuda.max_memory_allocated``
  of a SAC step vs an ABN step at the same batch).

Configs are timed interleaved (A B A B ...) so that drift of the machine
affects them alike. Usage::

    python tools/benchmark.py [--steps 20] [--warmup 3] [--out FILE]
        [--adaptsegnet CFG] [--mrnet CFG] [--abn CFG] [--sac CFG]
        [--cfg-options k=v ...]
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MessageHub  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmseg_uda.models.uda.student_outputs import (  # noqa: E402
    forward_heads, head_losses)
from mmseg_uda.utils.device_config import adapt_cfg_to_device  # noqa: E402

CONFIGS = dict(
    adaptsegnet='configs/synthetic/adaptsegnet.py',
    mrnet='configs/synthetic/mrnet.py',
    abn='configs/synthetic/abn.py',
    sac='configs/synthetic/sac.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=2,
                        help='images per domain in every batch (the same for '
                        'all methods, so that step times and memory compare)')
    parser.add_argument('--out', help='write the markdown table here')
    for name, path in CONFIGS.items():
        parser.add_argument(f'--{name}', default=path)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


class Bench:
    """One config's model, optimizer wrappers and a fixed random batch."""

    def __init__(self, name, cfg_path, device, batch_size, cfg_options):
        cfg = Config.fromfile(cfg_path)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        adapt_cfg_to_device(cfg)
        self.name = name
        self.model = MODELS.build(cfg.model).to(device)
        self.model.train()
        self.optim = build_optim_wrapper(self.model, cfg.optim_wrapper)
        h, w = cfg.model.data_preprocessor['size']
        b = batch_size or cfg.train_dataloader.batch_size
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
        self.times = []

    def sync(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()

    def step(self):
        self.sync()
        t0 = time.perf_counter()
        self.model.train_step(self.batch, self.optim)
        if getattr(self.model, 'teacher', None) is not None:
            self.model.teacher.update_parameters(self.model.segmentor)
        self.sync()
        return time.perf_counter() - t0


def bare_sac_step(bench):
    """SAC's network passes alone, on tensors of the same shapes: teacher
    forward on the clean views, student forward/backward on source and the
    noisy views, one optimizer step."""
    model = bench.model
    data = model.data_preprocessor(bench.batch, True)
    views = model.self_training.views.num_views
    tgt = data['target_inputs'].repeat_interleave(views, dim=0)
    seg_wrapper = bench.optim['segmentor']
    bench.sync()
    t0 = time.perf_counter()
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
    """Run each callable ``warmup`` times, then ``steps`` rounds A B A B."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(steps):
        for k, fn in fns.items():
            times[k].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


def peak_memory(fn, device):
    if device != 'cuda':
        return None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    fn()
    return torch.cuda.max_memory_allocated() / 2**20


def main():
    args = parse_args()
    init_default_scope('mmseg')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 10**6)  # past every warm-up (MR is on)
    benches = {
        name: Bench(name, getattr(args, name), device, args.batch_size,
                    args.cfg_options)
        for name in CONFIGS
    }
    lines = [f'device: {device} '
             f'({torch.cuda.get_device_name() if device == "cuda" else "CPU"}'
             f', {torch.get_num_threads()} threads), torch {torch.__version__}',
             f'steps: {args.steps} after {args.warmup} warm-up, median', '']

    t = interleaved(dict(adaptsegnet=benches['adaptsegnet'].step,
                         mrnet=benches['mrnet'].step), args.steps, args.warmup)
    mr_ratio = t['mrnet'] / t['adaptsegnet']
    sac = benches['sac']
    t2 = interleaved(dict(abn=benches['abn'].step, sac=sac.step,
                          bare=lambda: bare_sac_step(sac)), args.steps,
                     args.warmup)
    sac_extra = (t2['sac'] - t2['bare']) / t2['sac']
    mem = {k: peak_memory(benches[k].step, device) for k in ('abn', 'sac')}

    lines += ['| measure | value | aim |', '|---|---|---|']
    for k in ('adaptsegnet', 'mrnet'):
        lines.append(f'| {k} step | {t[k] * 1000:.1f} ms | |')
    for k in ('abn', 'sac'):
        lines.append(f'| {k} step | {t2[k] * 1000:.1f} ms | |')
    lines.append(f'| SAC network passes alone | {t2["bare"] * 1000:.1f} ms | |')
    lines.append(f'| MRNet / AdaptSegNet step | {mr_ratio:.3f} | <= 1.03 |')
    lines.append(f'| SAC extra work / SAC step | {sac_extra * 100:.1f}% | '
                 '<= 10% |')
    if mem['abn'] is not None:
        lines.append(f'| peak memory ABN / SAC | {mem["abn"]:.0f} / '
                     f'{mem["sac"]:.0f} MiB | |')
    else:
        lines.append('| peak memory | GPU only | |')
    text = '\n'.join(lines)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
