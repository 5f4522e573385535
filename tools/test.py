"""Evaluate a checkpoint on the config's test set (the target domain).

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR]
        [--json-out FILE] [--out DIR] [--model student|teacher]
        [--cfg-options k=v ...] [--launcher ...]

``--model teacher`` evaluates SAC's momentum teacher instead of the student.
``--out DIR`` writes every prediction as a PNG of train ids named after its
image (mmseg's ``IoUMetric(output_dir=...)``).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.dist import get_rank  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg_uda.utils.tool_config import (add_config_arguments,  # noqa: E402
                                         export_local_rank, load_tool_config,
                                         set_work_dir)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for logs and results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted predictions are saved (inside the '
        'work dir timestamp folder)')
    parser.add_argument(
        '--json-out', help='write the returned metrics to this JSON file')
    parser.add_argument(
        '--out',
        help='write the predictions (PNGs of train ids) to this folder')
    parser.add_argument(
        '--model',
        choices=['student', 'teacher'],
        default='student',
        help="network to evaluate: 'student' (default) or 'teacher' (SAC's "
        'momentum teacher)')
    add_config_arguments(parser)
    return export_local_rank(parser.parse_args())


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    set_work_dir(cfg, args.config, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.model != 'student':
        if cfg.model.get('type') != 'UDASegmentor':
            raise ValueError(f'--model {args.model} needs a UDASegmentor '
                             f'config, got model type {cfg.model.get("type")}')
        cfg.model['predict_net'] = args.model
    if args.out:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    if args.show_dir:
        if 'visualization' not in cfg.default_hooks:
            raise RuntimeError('--show-dir needs a SegVisualizationHook in '
                               'default_hooks.visualization')
        cfg.default_hooks.visualization['draw'] = True
        cfg.visualizer['save_dir'] = args.show_dir

    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.json_out and get_rank() == 0:
        os.makedirs(osp.dirname(osp.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)


if __name__ == '__main__':
    main()
