"""Mixed-precision training without a GPU: bfloat16 autocast."""
from contextlib import contextmanager
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from .guarded_optim_wrapper import GuardedUpdateMixin


def _autocast_available(device_type: str) -> bool:
    try:
        return torch.amp.is_autocast_available(device_type)
    except RuntimeError:  # not a device type at all
        return False


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(GuardedUpdateMixin, OptimWrapper):
    """:class:`OptimWrapper` whose forward passes run under bfloat16 autocast.

    MMEngine's :class:`AmpOptimWrapper` (float16 with a dynamic loss scaler)
    asserts a GPU. bfloat16 has the exponent range of float32, so it needs no
    loss scaling: this wrapper only enters :func:`torch.autocast` with
    ``dtype=torch.bfloat16`` in :meth:`optim_context`, on the device type of
    the model it is given (CPU on a machine without CUDA). Parameters,
    gradients and optimizer states stay float32; backward, gradient clipping
    and the step are those of :class:`OptimWrapper`.

    ``tools/train.py --amp`` selects it when no CUDA device is present (and
    :class:`AmpOptimWrapper` otherwise), for every wrapper of an
    :class:`OptimWrapperDict`::

        optim_wrapper = dict(
            type='BF16AutocastOptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9))

    Its state dict is the optimizer's, as for :class:`OptimWrapper`, so
    checkpoints move freely between fp32 and bf16 training. The float16 loss
    scaler state of an :class:`AmpOptimWrapper` checkpoint is dropped on
    loading (bfloat16 needs none).

    Args:
        device_type (str, optional): Device type of the autocast region
            (``'cpu'``, ``'cuda'``, ...). Defaults to None: the device type of
            the model's first parameter (CPU for a model without
            parameters).
        **kwargs: Arguments of :class:`OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    cast_dtype = torch.bfloat16

    def __init__(self, device_type: Optional[str] = None, **kwargs) -> None:
        if device_type is not None and not _autocast_available(device_type):
            raise ValueError(f'torch.autocast does not support device type '
                             f'{device_type!r}')
        super().__init__(**kwargs)
        self.device_type = device_type

    def _autocast_device(self, model: nn.Module) -> str:
        if self.device_type is not None:
            return self.device_type
        param = next(model.parameters(), None)
        return 'cpu' if param is None else param.device.type

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of :class:`OptimWrapper` plus
        bfloat16 autocast on the model's device.

        Args:
            model (nn.Module): The module trained with this wrapper.
        """
        with super().optim_context(model), torch.autocast(
                device_type=self._autocast_device(model),
                dtype=self.cast_dtype):
            yield

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer state (ignoring a float16 loss scaler's).

        Args:
            state_dict (dict): A state dict of this wrapper, of
                :class:`OptimWrapper` or of :class:`AmpOptimWrapper`.
        """
        if 'loss_scaler' in state_dict:
            state_dict = dict(state_dict)
            state_dict.pop('loss_scaler')
            print_log(
                'BF16AutocastOptimWrapper: the checkpoint holds a float16 '
                'loss scaler state (AmpOptimWrapper); bfloat16 training '
                'needs no loss scaling, so it is ignored.',
                logger='current')
        super().load_state_dict(state_dict)

    def __repr__(self) -> str:
        device = self.device_type or 'the model device'
        return f'{super().__repr__()}autocast: bfloat16 on {device}\n'
