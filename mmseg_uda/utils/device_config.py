"""Adapt a config to the machine it runs on, without editing the config.

Paper setups train with SyncBN on several GPUs and NCCL. The same configs must
run on a CPU-only machine (gloo, plain BN) so that users and CI can exercise
them. :func:`adapt_cfg_to_device` is called by ``tools/train.py`` and
``tools/test.py`` right after the config is loaded.
"""
from typing import Any

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log


def _replace_norm_type(node: Any, old: str, new: str) -> int:
    """Replace ``type=old`` by ``type=new`` in every ``norm_cfg`` below node.

    Returns:
        int: How many entries were replaced.
    """
    count = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'norm_cfg' and isinstance(value, dict) \
                    and value.get('type') == old:
                value['type'] = new
                count += 1
            else:
                count += _replace_norm_type(value, old, new)
    elif isinstance(node, (list, tuple)):
        for item in node:
            count += _replace_norm_type(item, old, new)
    return count


def adapt_cfg_to_device(cfg: Config, cuda_available: bool = None) -> Config:
    """Make ``cfg`` runnable on the current machine.

    Without CUDA:

    - the distributed backend becomes ``gloo`` (NCCL needs GPUs);
    - ``SyncBN`` norm layers become ``BN`` (``nn.SyncBatchNorm`` needs CUDA).

    With CUDA the config is left as written.

    Args:
        cfg (Config): The loaded config; modified in place.
        cuda_available (bool, optional): Override the detection (tests).

    Returns:
        Config: ``cfg`` itself.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return cfg
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        dist_cfg['backend'] = 'gloo'
    n = _replace_norm_type(cfg.get('model', {}), 'SyncBN', 'BN')
    if n:
        print_log(f'No CUDA device: replaced {n} SyncBN norm layer configs by '
                  'BN.', logger='current')
    if cfg.get('sync_bn'):
        cfg.sync_bn = None
    return cfg
