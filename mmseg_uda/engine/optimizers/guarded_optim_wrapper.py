# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Optimizer wrappers whose update averages gradients over processes and
skips non-finite updates."""
from typing import Dict, Optional

import torch.nn as nn
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS
from torch import Tensor

from ..wrappers.gradient_sync import all_reduce_gradients


class GuardedUpdateMixin:
    """:meth:`OptimWrapper.update_params` for one trainable part of a UDA
    model, with two additions.

    1. Right before the optimizer step the part's gradients are averaged
       over all ranks (:func:`all_reduce_gradients`, i.e.
       :func:`mmengine.dist.all_reduce_params`; a no-op in one process).
       This is what DDP would do, but explicit, so that it works for every
       trainable part of a GAN-style step whatever the forward passes were
       (see ``UDADistributedWrapper``).
    2. A non-finite loss or averaged gradient is handled by the model's
       ``guard`` (``NonFiniteGuard``: skip the update, restoring the step's
       buffers and counting it, or raise; a run of skipped updates stops
       the run). The loss test is all-reduced (max) so that all ranks skip
       together: a rank that went on would wait forever in the gradient
       all-reduce.

    Only the public :class:`OptimWrapper` interface is used (``scale_loss``,
    ``backward``, ``should_update``, ``step``, ``zero_grad``), so the mixin
    goes on any wrapper class (e.g. ``BF16AutocastOptimWrapper``).
    ``UDASegmentor`` calls ``optim_wrapper.guarded_update`` and refuses a
    wrapper without it.
    """

    def guarded_update(self,
                       loss: Tensor,
                       module: nn.Module,
                       guard,
                       losses: Optional[Dict[str, Tensor]] = None,
                       part: str = 'segmentor',
                       snapshot=None,
                       counter: Optional[Tensor] = None,
                       it: int = 0) -> bool:
        """Backward, gradient averaging, finiteness checks, step.

        Args:
            loss (Tensor): Total loss of the part.
            module (nn.Module): The part (its gradients are averaged).
            guard (NonFiniteGuard): Policy for non-finite values.
            losses (dict, optional): The loss terms, to name the non-finite
                ones.
            part (str): Name of the part in messages.
            snapshot (BufferSnapshot, optional): Buffers to restore when the
                update is skipped.
            counter (Tensor): Skipped-update counter (incremented in place).
            it (int): The runner's iteration, for messages.

        Returns:
            bool: Whether the update was applied (False: skipped).
        """
        what = guard.loss_problem(loss, losses)
        if what is None:
            self.backward(self.scale_loss(loss))
            if not self.should_update():
                return True
            all_reduce_gradients(module.parameters())
            # the averaged gradients are identical on all ranks: the same
            # decision everywhere without another collective
            what = guard.gradient_problem(self, module, loss)
            if what is None:
                self.step()
                self.zero_grad()
                guard.applied(part)
                return True
        guard.skip_or_raise(self, part, what, snapshot, counter, it)
        return False


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(GuardedUpdateMixin, OptimWrapper):
    """:class:`OptimWrapper` with :meth:`guarded_update` (see
    :class:`GuardedUpdateMixin`). ``UDAOptimWrapperConstructor`` builds it
    for ``type='OptimWrapper'``; checkpoints are those of
    :class:`OptimWrapper`."""


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(GuardedUpdateMixin, AmpOptimWrapper):
    """:class:`AmpOptimWrapper` with :meth:`guarded_update` (its loss
    scaler checks the gradients itself, see ``NonFiniteGuard``).
    ``UDAOptimWrapperConstructor`` builds it for
    ``type='AmpOptimWrapper'``."""


#: wrapper types the constructor upgrades to their guarded versions
GUARDED_TYPES = {
    'OptimWrapper': 'GuardedOptimWrapper',
    'AmpOptimWrapper': 'GuardedAmpOptimWrapper',
}
