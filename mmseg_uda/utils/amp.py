"""Switch a config's optimizer wrappers to mixed precision (``--amp``).

On a CUDA machine every wrapper becomes MMEngine's ``AmpOptimWrapper``
(float16 autocast with dynamic loss scaling); without CUDA, where
``AmpOptimWrapper`` cannot be built, every wrapper becomes
``BF16AutocastOptimWrapper`` (bfloat16 autocast, no loss scaling).
"""
import logging
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

FP16_WRAPPER = 'AmpOptimWrapper'
BF16_WRAPPER = 'BF16AutocastOptimWrapper'
# keys of AmpOptimWrapper that BF16AutocastOptimWrapper does not take
_FP16_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')


def _strip_scope(type_name: str) -> str:
    return type_name.split('.')[-1]


def optim_wrapper_cfgs(optim_wrapper: dict) -> List[dict]:
    """The optimizer wrapper configs inside an ``optim_wrapper`` config.

    A single wrapper (``dict(type='OptimWrapper', optimizer=...)``) is its own
    only entry. A multi-wrapper config (``UDAOptimWrapperConstructor``, or
    ``MultiOptimWrapperConstructor`` of downstream codebases) holds one
    wrapper config, with its own ``optimizer``, per trainable part: for a UDA
    segmentor ``segmentor`` and ``discriminator`` (the config every
    ``disc_<head>`` wrapper is built from) or per-head ``disc_<head>``
    entries.

    Args:
        optim_wrapper (dict): ``cfg.optim_wrapper``.

    Returns:
        list[dict]: The wrapper configs (references into ``optim_wrapper``,
        so they can be edited in place).
    """
    if 'optimizer' in optim_wrapper:
        return [optim_wrapper]
    wrappers = [
        v for v in optim_wrapper.values()
        if isinstance(v, dict) and 'optimizer' in v
    ]
    if not wrappers:
        raise ValueError(
            'optim_wrapper holds no optimizer wrapper config (neither an '
            '`optimizer` entry nor per-part configs with one): '
            f'{dict(optim_wrapper)}')
    return wrappers


def enable_amp(cfg: Config, cuda_available: Optional[bool] = None) -> Config:
    """Switch every optimizer wrapper of ``cfg`` to mixed precision.

    - With CUDA: ``type='AmpOptimWrapper'``, ``loss_scale='dynamic'`` (unless
      the config sets a loss scale): float16 autocast in each wrapper's
      ``optim_context`` and a dynamic loss scaler per optimizer.
    - Without CUDA: ``type='BF16AutocastOptimWrapper'``: bfloat16 autocast on
      the CPU, no loss scaling. A wrapper the config already declares as
      ``AmpOptimWrapper`` is converted too (it cannot be built without a
      GPU), dropping its float16-only keys.

    Wrappers already of a mixed-precision type that suits the machine are
    left as they are (with a warning). Each part of a UDA segmentor
    (segmentor and discriminators) gets its own wrapper of the chosen type,
    built by ``UDAOptimWrapperConstructor`` as before.

    Args:
        cfg (Config): The loaded config; modified in place.
        cuda_available (bool, optional): Override the detection (tests).

    Returns:
        Config: ``cfg`` itself.

    Raises:
        ValueError: A wrapper of another custom type, which this function
            cannot convert.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    target = FP16_WRAPPER if cuda_available else BF16_WRAPPER
    for wrapper in optim_wrapper_cfgs(cfg.optim_wrapper):
        current = _strip_scope(wrapper.get('type', 'OptimWrapper'))
        if current == target or (current == BF16_WRAPPER and cuda_available):
            print_log(
                f'Mixed precision is already enabled in the config '
                f'({current}).',
                logger='current',
                level=logging.WARNING)
            continue
        if current == FP16_WRAPPER:  # and no CUDA
            dropped = [k for k in _FP16_ONLY_KEYS if k in wrapper]
            for key in dropped:
                wrapper.pop(key)
            print_log(
                f'No CUDA device: the config\'s {FP16_WRAPPER} (float16) '
                f'becomes {BF16_WRAPPER} (bfloat16 autocast on the CPU)' +
                (f', dropping {dropped}' if dropped else '') + '.',
                logger='current',
                level=logging.WARNING)
        elif current != 'OptimWrapper':
            raise ValueError(
                '--amp converts optimizer wrappers of type OptimWrapper, got '
                f'{wrapper.get("type")}')
        wrapper['type'] = target
        if target == FP16_WRAPPER:
            wrapper.setdefault('loss_scale', 'dynamic')
    mode = ('float16 autocast with dynamic loss scaling (AmpOptimWrapper)'
            if cuda_available else
            'bfloat16 autocast on the CPU (BF16AutocastOptimWrapper)')
    print_log(f'Mixed-precision training: {mode}.', logger='current')
    return cfg
