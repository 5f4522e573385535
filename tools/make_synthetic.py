"""Generate the embedded synthetic domain-shift benchmark.

Usage::

    python tools/make_synthetic.py --out data/synthetic [--seed 0]
        [--num-source 400] [--num-target-train 400] [--num-val 100]
        [--size 512x256] [--domains gta,synthia,cityscapes]

Writes GTA5-format (``gta/``), SYNTHIA-RAND-CITYSCAPES-format
(``synthia/RAND_CITYSCAPES/``) sources and a Cityscapes-format target
(``cityscapes/``, train and val, both labelled); see
:mod:`mmseg_uda.benchmarks.synthetic`. Output is a deterministic
function of the arguments.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmseg_uda.benchmarks.synthetic import (  # noqa: E402
    DOMAINS, generate_benchmark)


def parse_size(text):
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--size must look like 512x256, got {text!r}')
    if w < 64 or h < 32:
        raise argparse.ArgumentTypeError('--size must be at least 64x32')
    return w, h


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic GTA/SYNTHIA -> Cityscapes '
        'benchmark in the real on-disk formats')
    parser.add_argument('--out', default='data/synthetic',
                        help='output folder (default: data/synthetic)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-source', type=int, default=400,
                        help='samples of each source domain (GTA, SYNTHIA)')
    parser.add_argument('--num-target-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--size', type=parse_size, default=(512, 256),
                        help='WxH of every image (default: 512x256)')
    parser.add_argument('--domains', default=','.join(DOMAINS),
                        help='comma-separated subset of ' + ','.join(DOMAINS))
    parser.add_argument('--quiet', action='store_true')
    args = parser.parse_args(argv)
    args.domains = [d for d in args.domains.split(',') if d]
    bad = [d for d in args.domains if d not in DOMAINS]
    if bad:
        parser.error(f'unknown domain(s) {bad}; choose from {list(DOMAINS)}')
    for name in ('num_source', 'num_target_train', 'num_val'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:  # keep to one core: the benchmark machine is shared
        import cv2
        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover
        pass
    t0 = time.time()
    meta = generate_benchmark(
        args.out,
        seed=args.seed,
        num_source=args.num_source,
        num_target_train=args.num_target_train,
        num_val=args.num_val,
        size=args.size,
        domains=args.domains,
        verbose=not args.quiet)
    if not args.quiet:
        print(f'wrote {args.out} in {time.time() - t0:.1f}s '
              f'(seed {meta["seed"]}, size {meta["size"][0]}x'
              f'{meta["size"][1]})')


if __name__ == '__main__':
    main()
