"""Averaging gradients and buffers across processes, with mmengine's
collectives."""
from typing import Iterable

import torch
from mmengine.dist import all_reduce_params, get_world_size

#: Bucket size of the gradient all-reduce (as torch DDP's default).
BUCKET_MB = 25


@torch.no_grad()
def all_reduce_gradients(params: Iterable[torch.nn.Parameter],
                         bucket_mb: int = BUCKET_MB) -> None:
    """Average the gradients of ``params`` over all processes.

    :func:`mmengine.dist.all_reduce_params` (coalesced into buckets of
    ``bucket_mb`` MiB, ``op='mean'``) on the gradients. Parameters that
    received no gradient on this rank first get a zero gradient (and then
    the average), so every rank issues the same collectives even when a
    branch of the graph was unused - the one thing mmengine's function does
    not do. No-op outside distributed training.

    Args:
        params (Iterable[Parameter]): Parameters of one optimizer.
        bucket_mb (int): Bucket size in MiB.
    """
    if get_world_size() == 1:
        return
    params = [p for p in params if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    all_reduce_params([p.grad for p in params],
                      bucket_size_mb=bucket_mb,
                      op='mean')


@torch.no_grad()
def average_buffers(module: torch.nn.Module) -> None:
    """Average floating-point buffers (BN running statistics) over ranks.

    What mmengine's ``SyncBuffersHook`` does once per epoch
    (:func:`mmengine.dist.all_reduce_params` with ``op='mean'``), after
    every step and restricted to floating-point buffers: integer buffers
    (``num_batches_tracked``) agree anyway and cannot be averaged in place.
    With plain BN (CPU / gloo) every rank updates its running statistics
    from its own batch; averaging them keeps the replicas identical and
    equals the statistics of the whole global batch for the running mean.
    """
    if get_world_size() == 1:
        return
    bufs = [b for b in module.buffers() if b.is_floating_point()]
    if bufs:
        all_reduce_params(bufs, op='mean')
