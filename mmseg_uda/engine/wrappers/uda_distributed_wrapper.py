"""Distributed wrapper that keeps a UDA segmentor's own ``train_step``."""
from typing import Dict, Union

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.optim import OptimWrapperDict
from mmseg.registry import MODEL_WRAPPERS

from .gradient_sync import average_buffers


@MODEL_WRAPPERS.register_module()
class UDADistributedWrapper(nn.Module):
    """Data-parallel wrapper for GAN-style and teacher-student segmentors.

    ``MMDistributedDataParallel.train_step`` runs ``forward(mode='loss')``
    and never calls the wrapped model's own ``train_step``, so a UDA
    segmentor would be silently bypassed; torch's DDP also synchronises only
    gradients produced through its own ``forward``. This wrapper instead:

    - broadcasts parameters and buffers from rank 0 once, so all replicas
      start identical (as DDP does);
    - delegates ``train_step`` to the module, whose optimizer updates average
      the gradients of each trainable part (segmentor, every discriminator)
      over the ranks right before the optimizer step
      (:func:`all_reduce_gradients`); the momentum teacher has no optimizer
      and is updated identically on every rank from the identical student;
    - averages floating-point buffers (plain-BN running statistics) after
      each step, so replicas stay identical without SyncBN (CPU / gloo). With
      SyncBN the statistics are already global and averaging changes nothing.

    The runner selects it through ``model_wrapper_cfg`` (set in
    ``configs/_base_/default_runtime.py``); it is used only when training
    with several processes.

    Args:
        module (nn.Module): The model (a ``UDASegmentor``).
        broadcast_buffers (bool): Average buffers after every train step.
        **kwargs: Accepted for compatibility with DDP-style configs
            (``device_ids``, ``find_unused_parameters``) and ignored.
    """

    def __init__(self,
                 module: nn.Module,
                 broadcast_buffers: bool = True,
                 **kwargs) -> None:
        super().__init__()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        if torch_dist.is_available() and torch_dist.is_initialized():
            with torch.no_grad():
                for t in list(module.parameters()) + list(module.buffers()):
                    torch_dist.broadcast(t.data, src=0)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        """The module's own training step, then buffer averaging."""
        log_vars = self.module.train_step(data, optim_wrapper)
        if self.broadcast_buffers:
            average_buffers(self.module)
        return log_vars

    def val_step(self, data: Union[dict, tuple, list]) -> list:
        """Validation through the module (each rank its own shard)."""
        return self.module.val_step(data)

    def test_step(self, data: Union[dict, tuple, list]) -> list:
        """Testing through the module (each rank its own shard)."""
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
