"""Process-group setup that also works on CPU-only machines."""
import datetime

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import init_dist


def setup_distributed(launcher: str, cfg: Config) -> None:
    """Initialise ``torch.distributed`` for a tool started by a launcher.

    With CUDA this is mmengine's :func:`init_dist` with the config's
    ``env_cfg.dist_cfg`` (NCCL in the paper setups). mmengine's PyTorch
    launcher path calls ``torch.cuda.set_device``, which fails on a CPU-only
    torch, so without CUDA the gloo group is created directly from the
    launcher's environment (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``,
    ``WORLD_SIZE``). When a group already exists nothing happens; a runner
    built afterwards sees it and does not initialise again.

    ``env_cfg.dist_cfg.timeout`` (seconds) is honoured on every path (torch
    otherwise waits 30 minutes): a collective that a stopped or frozen rank
    never joins fails after that time with a ``RuntimeError`` on the other
    ranks, and the launcher ends the job.

    Args:
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        cfg (Config): The config (for ``env_cfg.dist_cfg``).
    """
    if launcher == 'none' or (torch_dist.is_available()
                              and torch_dist.is_initialized()):
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    if torch.cuda.is_available():
        init_dist(launcher, **dist_cfg)
    elif launcher == 'pytorch':
        timeout = dist_cfg.get('timeout')
        kwargs = {} if timeout is None else dict(
            timeout=datetime.timedelta(seconds=timeout))
        torch_dist.init_process_group(backend='gloo', **kwargs)
    else:
        dist_cfg['backend'] = 'gloo'
        init_dist(launcher, **dist_cfg)
