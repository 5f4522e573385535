# Copyright (c) mmseg_uda contributors. All rights reserved.
"""``--resume`` for configs that initialise from a checkpoint."""
from typing import Optional, Union

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint


def resolve_resume(cfg: Config,
                   resume: Optional[Union[bool, str]]) -> Config:
    """Set ``cfg.resume`` and ``cfg.load_from`` from a ``--resume`` option.

    MMEngine resumes from ``load_from`` whenever it is set together with
    ``resume=True``. Several configs use ``load_from`` for the *initial*
    weights (SAC starts from the ABN checkpoint, MRNet stage II from
    stage I), so a plain ``resume=True`` would restart such a run from its
    initialisation checkpoint - with that run's iteration, optimizer and
    schedule - instead of continuing it. Here:

    - ``None`` / ``False``: no resumption (``cfg.resume = False``).
    - ``True`` / ``'auto'``: continue from the latest checkpoint of
      ``cfg.work_dir`` (``last_checkpoint``) if there is one; it supersedes
      ``load_from``. Without one, the run starts from scratch, initialised
      from ``load_from`` as usual, so a preemptible job can always pass
      ``--resume``.
    - a path: resume from that checkpoint.

    Args:
        cfg (Config): The config; ``cfg.work_dir`` must be set. Modified in
            place.
        resume (bool | str, optional): The option's value.

    Returns:
        Config: ``cfg`` itself.
    """
    if resume is None or resume is False:
        cfg.resume = False
        return cfg
    if resume is True or resume == 'auto':
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest is None:
            print_log(
                f'--resume: no checkpoint in {cfg.work_dir}, starting a new '
                'run' + (f' from load_from={cfg.load_from}'
                         if cfg.get('load_from') else ''),
                logger='current')
            cfg.resume = False
            return cfg
        resume = latest
    cfg.resume = True
    cfg.load_from = resume
    return cfg
