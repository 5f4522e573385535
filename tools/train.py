"""Train a segmentor (source-only, oracle, or a UDA method) with MMEngine.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--val-json-out FILE] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]

``--val-json-out FILE`` writes the metrics of the validation at the last
iteration as ``tools/test.py --json-out`` would write them for the last
checkpoint (``FinalValMetricsHook``; nothing is written when the config
validates differently from how it tests, or when training stops early).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.runner import Runner  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (registers components, safe checkpoints)
from mmseg.registry import RUNNERS  # noqa: E402
from mmseg_uda.utils.amp import enable_amp  # noqa: E402
from mmseg_uda.utils.resume import resolve_resume  # noqa: E402
from mmseg_uda.utils.tool_config import (add_config_arguments,  # noqa: E402
                                         export_local_rank, load_tool_config,
                                         set_work_dir)
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
        '--val-json-out',
        help='write the metrics of the validation at the last iteration to '
        'this JSON file (as tools/test.py --json-out on the last checkpoint)')
    add_config_arguments(parser)
    return export_local_rank(parser.parse_args())


def main():
    args = parse_args()
    cfg = load_tool_config(args, check=check_train_loop_cfg)
    set_work_dir(cfg, args.config, args.work_dir)
    if args.val_json_out:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='FinalValMetricsHook',
                 out_file=osp.abspath(args.val_json_out))
        ]
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
