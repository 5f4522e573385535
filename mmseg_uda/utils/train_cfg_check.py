# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Refuse training-loop settings that would train nothing or crash late."""
import numbers

from mmengine.config import Config


def _positive_int(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and value > 0 and int(value) == value)


def check_train_loop_cfg(cfg: Config) -> None:
    """Check ``cfg.train_cfg`` before the runner is built.

    MMEngine's loops accept ``max_iters`` / ``max_epochs`` <= 0 (the run
    exits 0 without training, checkpoint or message) and
    ``val_interval=0`` (``ZeroDivisionError`` at the first iteration).

    Args:
        cfg (Config): The training config.

    Raises:
        ValueError: Naming the key, its value and what to set instead.
    """
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_iters', 'max_epochs'):
        if key in train_cfg and not _positive_int(train_cfg[key]):
            raise ValueError(
                f'train_cfg.{key}={train_cfg[key]!r}: must be a positive '
                'integer; with it the run would end without training a '
                'step or writing a checkpoint.')
    if 'val_interval' in train_cfg and \
            not _positive_int(train_cfg['val_interval']):
        raise ValueError(
            f'train_cfg.val_interval={train_cfg["val_interval"]!r}: must '
            'be a positive integer (iterations, or epochs, between '
            'validations). To train without validation set val_cfg=None '
            'val_dataloader=None val_evaluator=None.')
