"""Train a segmentor (source-only, oracle, or a UDA method) with MMEngine.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (registers components, safe checkpoints)
from mmseg.registry import RUNNERS  # noqa: E402
from mmseg_uda.utils.amp import enable_amp  # noqa: E402
from mmseg_uda.utils.device_config import adapt_cfg_to_device  # noqa: E402
from mmseg_uda.utils.dist_utils import setup_distributed  # noqa: E402
from mmseg_uda.utils.resume import resolve_resume  # noqa: E402
from mmseg_uda.utils.train_cfg_check import check_train_loop_cfg  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        default=None,
        help='resume from the latest checkpoint in work_dir (if there is '
        'none: a new run, initialised from load_from), or from the given '
        'checkpoint')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='mixed-precision training: float16 with dynamic loss scaling '
        '(AmpOptimWrapper) on a GPU, bfloat16 autocast '
        '(BF16AutocastOptimWrapper) on the CPU')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs '
        '(lists as key="[a,b]")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_train_loop_cfg(cfg)
    adapt_cfg_to_device(cfg)
    setup_distributed(args.launcher, cfg)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        enable_amp(cfg)
    resolve_resume(cfg, args.resume)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
