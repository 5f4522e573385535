# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Checkpoint the global random number generators for exact resumption."""
import logging
import random
from typing import Callable, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

#: Key of the RNG states in a checkpoint.
CKPT_KEY = 'rng_states'


def get_rng_state() -> dict:
    """The state of this process' global generators.

    Python's ``random``, numpy's legacy global ``RandomState``, torch's CPU
    generator and, when CUDA is available, the generator of the current CUDA
    device. Only tensors, ints, floats, strings, tuples and dicts are used,
    so a checkpoint holding the state still loads with
    ``torch.load(weights_only=True)`` without allow-listing numpy's
    ``RandomState`` pickles.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` (and ``cuda``).
    """
    name, key, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(
            bit_generator=str(name),
            key=torch.from_numpy(key.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the global generators from :func:`get_rng_state`.

    Tensors may have been mapped to another device by the checkpoint loader.
    A CUDA state is restored only when this process uses CUDA.

    Args:
        state (dict): The state of one process.
    """
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    np_state = state['numpy']
    np.random.set_state(
        (np_state['bit_generator'],
         np_state['key'].cpu().numpy().astype(np.uint32), np_state['pos'],
         np_state['has_gauss'], np_state['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())


class _RestoreAfterSkip:
    """Dataloader-iterator proxy that calls ``callback`` right before the
    batch after the first ``skip`` ones is fetched."""

    def __init__(self, iterator: Iterator, skip: int,
                 callback: Callable[[], None]) -> None:
        self.iterator = iterator
        self.skip = skip
        self.callback: Optional[Callable[[], None]] = callback

    def __iter__(self) -> '_RestoreAfterSkip':
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
        elif self.callback is not None:
            callback, self.callback = self.callback, None
            callback()
        return next(self.iterator)

    def __getattr__(self, name: str):
        return getattr(self.iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the global RNG states with every checkpoint and restore them on
    resume, so that an interrupted and resumed run equals an uninterrupted
    one bitwise (with ``randomness=dict(seed=..., deterministic=True)``).

    MMEngine checkpoints hold the model, optimizers, schedulers and the
    message hub, but not the global generators. Those drive dropout in the
    decode heads and, with ``num_workers=0``, the random data transforms
    (crops, flips), so without this hook a resumed run draws other random
    numbers than the uninterrupted one. (UDA randomness of our own, e.g.
    SAC's views, uses generators seeded by the iteration and needs nothing.)

    - ``before_save_checkpoint``: stores the states under ``'rng_states'``
      as ``dict(world_size=W, states=[state of rank 0, ..., rank W - 1])``.
      A checkpoint is written by rank 0 only; under ``torch.distributed``
      the states of all ranks are therefore gathered in ``after_train_iter``
      of the iterations in which a :class:`~mmengine.hooks.CheckpointHook`
      is going to save (this hook runs before it).
    - ``after_load_checkpoint``: keeps the states; they are applied only
      when training resumes (the loop starts at an iteration > 0), not for
      ``load_from``. ``IterBasedTrainLoop`` first advances the dataloader
      by the resumed number of iterations to restore the sampler position;
      with ``num_workers=0`` that runs the transforms of the skipped batches
      in this process, so the states are restored right after this skip,
      before the first new batch is loaded. Worker processes are seeded by
      MMEngine from ``(seed, rank, worker_id)`` and replay the skipped
      batches, so they reach the same state by themselves.
    - Validation inside training draws random numbers as well (e.g.
      creating a dataloader iterator draws a base seed), so the states are
      saved before and restored after every validation: the training stream
      does not depend on ``val_interval``, and a checkpoint saved during
      validation (``save_best``) holds the training state.

    The states are plain tensors, ints and tuples, so checkpoints still load
    with ``torch.load(weights_only=True)``. Resuming with a different number
    of processes leaves the generators as seeded (with a warning).

    Args:
        priority (str): Hook priority. Defaults to 'LOW', i.e. after the
            optimizer step and before ``CheckpointHook`` ('VERY_LOW').
    """

    priority = 'LOW'

    def __init__(self, priority: Optional[str] = None) -> None:
        if priority is not None:
            self.priority = priority
        self._loaded: Optional[dict] = None
        self._gathered: Optional[tuple] = None  # (iteration, states)
        self._before_val: Optional[List[dict]] = None
        self._local_before_val: Optional[dict] = None

    # ------------------------------------------------------------------
    # saving
    # ------------------------------------------------------------------
    @staticmethod
    def _gather() -> List[dict]:
        """The states of all ranks, in rank order."""
        state = get_rng_state()
        if get_dist_info()[1] == 1:
            return [state]
        return all_gather_object(state)

    @staticmethod
    def _checkpoint_due(runner) -> bool:
        """Whether a ``CheckpointHook`` saves after this iteration."""
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch and (
                    hook.every_n_train_iters(runner, hook.interval,
                                             hook.save_begin) or
                (hook.save_last and hook.is_last_train_iter(runner))):
                return True
        return False

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Gather every rank's states before a checkpoint is written."""
        if get_dist_info()[1] > 1 and self._checkpoint_due(runner):
            self._gathered = (runner.iter, self._gather())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the training RNG states of all ranks in ``checkpoint``."""
        world_size = get_dist_info()[1]
        if self._before_val is not None:
            states = self._before_val
        elif world_size == 1:
            states = [get_rng_state()]
        elif self._gathered is not None and \
                self._gathered[0] == runner.iter:
            states = self._gathered[1]
        else:
            print_log(
                'RNGStateHook: the RNG states of the other ranks were not '
                'gathered for this checkpoint (not saved by a '
                'CheckpointHook after a training iteration); only rank 0 '
                'will be restored on resume.',
                logger='current',
                level=logging.WARNING)
            states = [get_rng_state()] + [None] * (world_size - 1)
        checkpoint[CKPT_KEY] = dict(world_size=world_size, states=states)

    # ------------------------------------------------------------------
    # validation does not consume the training stream
    # ------------------------------------------------------------------
    def before_val(self, runner) -> None:
        """Remember the states (of all ranks) before validation."""
        self._local_before_val = get_rng_state()
        self._before_val = self._gather()

    def after_val(self, runner) -> None:
        """Restore the states after validation."""
        if self._local_before_val is not None:
            set_rng_state(self._local_before_val)
        self._local_before_val = None
        self._before_val = None

    # ------------------------------------------------------------------
    # resuming
    # ------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the saved states for :meth:`before_train`."""
        self._loaded = checkpoint.get(CKPT_KEY)

    def before_train(self, runner) -> None:
        """On resume, arrange for the states to be restored before the first
        new batch is loaded."""
        saved, self._loaded = self._loaded, None
        if saved is None or runner.iter == 0:
            return  # fresh run, or load_from: keep the seeded generators
        rank, world_size = get_dist_info()
        states = saved.get('states', [])
        state = states[rank] if len(states) == world_size else None
        if state is None:
            print_log(
                f'RNGStateHook: the checkpoint holds RNG states of '
                f'{len(states)} process(es) ({saved.get("world_size")} '
                f'saved), not of rank {rank} of {world_size}; the global '
                'generators of this rank stay as seeded and the resumed run '
                'will not repeat the interrupted one exactly.',
                logger='current',
                level=logging.WARNING)
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            # IterBasedTrainLoop.run advances the iterator by `runner.iter`
            # batches before the first new iteration.
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, runner.iter,
                lambda: set_rng_state(state))
        else:
            set_rng_state(state)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """Drop the iterator proxy once it has done its work."""
        loop = runner.train_loop
        proxy = getattr(loop, 'dataloader_iterator', None)
        if isinstance(proxy, _RestoreAfterSkip):
            loop.dataloader_iterator = proxy.iterator
            if proxy.callback is not None:
                print_log(
                    'RNGStateHook: the train loop fetched the first batch '
                    'after resuming before the expected skip of '
                    f'{runner.iter} batches; the RNG states are restored '
                    'now, after it was loaded.',
                    logger='current',
                    level=logging.WARNING)
                proxy.callback()
