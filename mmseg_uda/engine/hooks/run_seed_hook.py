# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Hand the run's seed (``randomness.seed``) to the model's own generators."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


def hand_over_run_seed(model, seed: int) -> None:
    """Call ``set_run_seed(seed)`` on every submodule of ``model`` (model
    wrappers unwrapped) that has it. For tools that train without a runner.
    """
    if is_model_wrapper(model):
        model = model.module
    for module in model.modules():
        set_run_seed = getattr(module, 'set_run_seed', None)
        if callable(set_run_seed):
            set_run_seed(int(seed))


@HOOKS.register_module()
class RunSeedHook(Hook):
    """Give ``runner.seed`` to every submodule of the model that has a
    ``set_run_seed(seed)`` method, before the first iteration.

    Parts of a UDA model that draw their own random numbers from explicit
    generators (SAC's views and photometric noise,
    :class:`AugmentationConsistency`) are built before any runner exists
    and cannot read ``randomness.seed`` from the config themselves. MMEngine
    keeps the seed of the run as ``runner.seed`` (the configured one, one
    drawn and synchronised over ranks when it is None, plus the rank with
    ``diff_rank_seed=True``) and, on ``--resume``, restores the seed stored
    in the checkpoint's meta before ``before_train``, so a resumed run hands
    over the same seed as the interrupted one.

    The schedule bases register it as a keyed default hook::

        default_hooks = dict(run_seed=dict(type='RunSeedHook'))

    Args:
        priority (str, optional): Hook priority; defaults to 'VERY_HIGH' so
            the seed is set before any other ``before_train`` work.
    """

    priority = 'VERY_HIGH'

    def __init__(self, priority: Optional[str] = None) -> None:
        if priority is not None:
            self.priority = priority

    def before_train(self, runner) -> None:
        """Call ``set_run_seed(runner.seed)`` on the seed consumers."""
        hand_over_run_seed(runner.model, runner.seed)
