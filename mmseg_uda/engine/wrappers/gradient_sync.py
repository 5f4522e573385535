"""Explicit gradient averaging across processes."""
from typing import Iterable

import torch
import torch.distributed as torch_dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def dist_world_size() -> int:
    """World size of the default process group (1 when not distributed)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_world_size()
    return 1


@torch.no_grad()
def all_reduce_gradients(params: Iterable[torch.nn.Parameter],
                         bucket_mb: float = 25.) -> None:
    """Average the gradients of ``params`` over all processes.

    Parameters that received no gradient on this rank contribute zeros (and
    get the average), so every rank issues the same collectives even when a
    branch of the graph was unused. Gradients are flattened into buckets of
    about ``bucket_mb`` MiB per dtype and device, one ``all_reduce`` each.
    No-op outside distributed training.

    Args:
        params (Iterable[Parameter]): Parameters of one optimizer.
        bucket_mb (float): Bucket size in MiB.
    """
    world_size = dist_world_size()
    if world_size == 1:
        return
    params = [p for p in params if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    groups = {}
    for p in params:
        groups.setdefault((p.grad.dtype, p.grad.device), []).append(p.grad)
    limit = bucket_mb * 2**20
    for grads in groups.values():
        bucket, size = [], 0
        for g in grads + [None]:
            if g is not None:
                bucket.append(g)
                size += g.numel() * g.element_size()
            if bucket and (g is None or size >= limit):
                flat = _flatten_dense_tensors(bucket)
                torch_dist.all_reduce(flat)
                flat.div_(world_size)
                for dst, src in zip(bucket,
                                    _unflatten_dense_tensors(flat, bucket)):
                    dst.copy_(src)
                bucket, size = [], 0


@torch.no_grad()
def average_buffers(module: torch.nn.Module) -> None:
    """Average floating-point buffers (BN running statistics) over ranks.

    With plain BN (CPU / gloo) every rank updates its running statistics from
    its own batch; averaging them after each step keeps the replicas
    identical and equals the statistics of the whole global batch for the
    running mean. Integer buffers (``num_batches_tracked``) agree anyway.
    """
    world_size = dist_world_size()
    if world_size == 1:
        return
    bufs = [b for b in module.buffers() if b.is_floating_point()]
    if not bufs:
        return
    flat = _flatten_dense_tensors(bufs)
    torch_dist.all_reduce(flat)
    flat.div_(world_size)
    for dst, src in zip(bufs, _unflatten_dense_tensors(flat, bufs)):
        dst.copy_(src)
