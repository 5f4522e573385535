# Copyright (c) mmseg_uda contributors. All rights reserved.
"""The config of a command-line tool: its common options and loading.

Every tool of ``tools/`` that runs a config (train, test, pseudo labels,
class statistics) takes ``--cfg-options``, ``--launcher`` and
``--local_rank`` and loads its config the same way; this module is that one
place.
"""
import argparse
import os
import os.path as osp
from typing import Callable, Optional, Sequence

from mmengine.config import Config, DictAction

from mmseg_uda.utils.device_config import adapt_cfg_to_device
from mmseg_uda.utils.dist_utils import setup_distributed

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_config_arguments(parser: argparse.ArgumentParser,
                         launchers: Sequence[str] = LAUNCHERS) -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local_rank``.

    Args:
        parser (ArgumentParser): The tool's parser.
        launchers (Sequence[str]): The launchers the tool supports.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs '
        '(lists as key="[a,b]")')
    parser.add_argument(
        '--launcher',
        choices=list(launchers),
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> argparse.Namespace:
    """Set ``LOCAL_RANK`` from ``--local_rank`` unless the launcher did
    (``torch.distributed.launch`` passes the option, ``torchrun`` the
    variable); return ``args``."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_tool_config(args: argparse.Namespace,
                     check: Optional[Callable[[Config], None]] = None
                     ) -> Config:
    """``args.config`` with ``--cfg-options`` merged, adapted to the device
    and with the process group of ``--launcher`` set up.

    Args:
        args (Namespace): Parsed options with ``config``, ``cfg_options``
            and ``launcher``.
        check (callable, optional): Called on the merged config before it is
            adapted to the device (e.g. ``check_train_loop_cfg``).

    Returns:
        Config: The config (``cfg.launcher`` set to ``args.launcher``).
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if check is not None:
        check(cfg)
    adapt_cfg_to_device(cfg)
    setup_distributed(args.launcher, cfg)
    return cfg


def set_work_dir(cfg: Config, config_path: str,
                 work_dir: Optional[str]) -> None:
    """``cfg.work_dir``: ``work_dir`` when given, else the config's own,
    else ``./work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
