# Copyright (c) mmseg_uda contributors. All rights reserved.
"""``--resume`` for configs that initialise from a checkpoint."""
import glob
import logging
import os.path as osp
import re
from typing import List, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or ``None`` if it can.

    The file must exist, be non-empty, load with
    ``torch.load(weights_only=True)`` (MMEngine's globals are allow-listed
    by :mod:`mmseg_uda.utils.checkpoint_safety`; a truncated file or one
    with a code payload fails here) and be an MMEngine training checkpoint
    (a dict with ``state_dict`` and ``meta``).

    Args:
        path (str): The candidate checkpoint.

    Returns:
        str | None: A one-line reason, or ``None``.
    """
    if not osp.isfile(path):
        return 'no such file'
    if osp.getsize(path) == 0:
        return 'empty file'
    try:
        # mmap: the unpickling and the key checks run, the tensor data is
        # not read (the runner loads the chosen checkpoint once, later)
        ckpt = torch.load(path, map_location='cpu', weights_only=True,
                          mmap=True)
    except Exception as e:  # noqa: BLE001 - any failure means "not usable"
        first = str(e).strip().splitlines()
        return f'{type(e).__name__}: {first[0] if first else ""}'
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt \
            or 'meta' not in ckpt:
        return 'not an MMEngine training checkpoint (no state_dict/meta)'
    return None


def read_last_checkpoint(work_dir: str) -> Tuple[Optional[str], str]:
    """The path named by ``work_dir/last_checkpoint``.

    Returns:
        tuple: ``(path, '')``, or ``(None, reason)`` when the file is
        missing, empty or not a one-line UTF-8 path.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None, ''
    with open(record, 'rb') as f:
        raw = f.read(4097)
    try:
        text = raw.decode('utf-8').strip()
    except UnicodeDecodeError:
        return None, f'{record}: not a text file'
    if not text:
        return None, f'{record}: empty'
    if len(raw) > 4096 or '\n' in text or '\0' in text:
        return None, f'{record}: not a single path'
    return text, ''


def _step(path: str) -> int:
    match = re.search(r'(\d+)\.pth$', osp.basename(path))
    return int(match.group(1)) if match else -1


def checkpoint_candidates(dirs: List[str]) -> List[str]:
    """``*.pth`` training checkpoints in ``dirs``, newest first.

    Newest means the largest number in the name (``iter_N.pth``,
    ``epoch_N.pth``), then the latest modification time. Temporary files of
    :class:`~mmseg_uda.engine.hooks.AtomicCheckpointHook` (``.*.tmp``) and
    ``best_*.pth`` (saved without the optimizer) are not candidates.
    """
    paths = set()
    for d in dirs:
        for path in glob.glob(osp.join(d, '*.pth')):
            if not osp.basename(path).startswith('best_'):
                paths.add(path)
    return sorted(
        paths, key=lambda p: (_step(p), osp.getmtime(p)), reverse=True)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from.

    The one ``last_checkpoint`` names if :func:`checkpoint_problem` finds
    nothing wrong with it; otherwise the newest loadable one of
    :func:`checkpoint_candidates` in the work dir (and in the directory
    ``last_checkpoint`` points to), with a warning listing every file
    skipped and why. A missing, empty or garbage ``last_checkpoint`` is
    treated the same way.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint, or ``None`` if there is none to resume.
    """
    named, record_problem = read_last_checkpoint(work_dir)
    skipped = [record_problem] if record_problem else []
    dirs = [work_dir]
    if named is not None:
        problem = checkpoint_problem(named)
        if problem is None:
            return named
        skipped.append(f'{named} (named by last_checkpoint): {problem}')
        if osp.isdir(osp.dirname(named) or '.'):
            dirs.append(osp.dirname(named) or '.')
    found = None
    for path in checkpoint_candidates(dirs):
        if named is not None and osp.abspath(path) == osp.abspath(named):
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            found = path
            break
        skipped.append(f'{path}: {problem}')
    if skipped:
        outcome = f'resuming from {found}' if found else \
            f'no loadable checkpoint in {work_dir}'
        print_log(f'--resume: {outcome}; skipped: ' + '; '.join(skipped),
                  logger='current', level=logging.WARNING)
    return found


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
    - ``True`` / ``'auto'``: continue from the latest loadable checkpoint
      of ``cfg.work_dir`` (:func:`find_resumable_checkpoint`: the one
      ``last_checkpoint`` names if it loads, else the newest one that does,
      with a warning) if there is one; it supersedes
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
        latest = find_resumable_checkpoint(cfg.work_dir)
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
