"""The non-finite loss / gradient policy of the UDA updates."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor
from torch._utils import _unflatten_dense_tensors
from torch.nn.utils import get_total_norm

from mmengine.dist import all_reduce

NONFINITE_POLICIES = ('skip', 'raise')


class NonFiniteLossError(FloatingPointError, RuntimeError):
    """A loss or gradient of a UDA update is NaN or infinite and
    ``nonfinite_policy='raise'``.

    Both a :class:`FloatingPointError` and a :class:`RuntimeError`.
    """


class BufferSnapshot:
    """Flat copies of modules' buffers, taken before a step so that a
    skipped step can leave BN statistics, class priors etc. untouched.

    One ``cat`` per dtype and device; nothing is copied back unless
    :meth:`restore` is called.

    Args:
        modules (Sequence[nn.Module | None]): Modules whose buffers
            (recursively) are saved; None entries are ignored.
    """

    def __init__(self, modules: Sequence[Optional[nn.Module]]) -> None:
        seen, groups = set(), {}
        for module in modules:
            if module is None:
                continue
            for buf in module.buffers():
                if id(buf) in seen:
                    continue
                seen.add(id(buf))
                groups.setdefault((buf.dtype, buf.device), []).append(buf)
        # torch.cat always copies (_flatten_dense_tensors returns a view of
        # a lone tensor: the snapshot would follow the buffer)
        with torch.no_grad():
            self.groups = [(bufs,
                            torch.cat([b.detach().reshape(-1)
                                       for b in bufs]))
                           for bufs in groups.values()]

    @torch.no_grad()
    def restore(self) -> None:
        """Write the saved values back into the buffers."""
        for bufs, flat in self.groups:
            for dst, src in zip(bufs, _unflatten_dense_tensors(flat, bufs)):
                dst.copy_(src)


class NonFiniteGuard:
    """Detects NaN / inf losses and gradients of an update and skips the
    update or raises, by policy.

    Before every optimizer update (segmentor and each discriminator) the
    total loss is tested; after the gradient averaging, so are the
    gradients (except under ``AmpOptimWrapper``, whose loss scaler already
    skips steps with overflowing gradients). Under ``torch.distributed``
    the loss test is all-reduced, so every rank takes the same decision
    (the averaged gradients are identical on all ranks anyway). A NaN / inf
    is logged as an MMLogger warning with the iteration and the names of
    the offending loss terms (or parameters) and then, by ``policy``:

    - ``'skip'`` (default): no backward / no optimizer step, gradients
      zeroed, and the buffers changed during the step (BN running
      statistics, SAC's class prior) restored from a
      :class:`BufferSnapshot`, so the skipped step leaves the model as it
      was. The caller's counter (``UDASegmentor.skipped_steps``, a buffer:
      saved in checkpoints, restored on resume) is incremented. With
      gradient accumulation a skipped step also drops the gradients
      accumulated so far in the window.
    - ``'raise'``: :class:`NonFiniteLossError` (a ``FloatingPointError``
      and ``RuntimeError``) naming the iteration and the terms.

    A run that diverged (e.g. too high a learning rate) gives non-finite
    values at every step: skipping would go on forever and end with a
    useless model and exit status 0. After ``max_consecutive_skips``
    skipped updates of one part in a row (no applied update of that part in
    between, see :meth:`applied`), :class:`NonFiniteLossError` stops the
    run, naming the part and the last non-finite terms.

    Args:
        policy (str): ``'skip'`` or ``'raise'``. Defaults to 'skip'.
        max_consecutive_skips (int): Consecutive skipped updates of one
            part that stop the run; 0 never stops. Defaults to 20.
    """

    def __init__(self,
                 policy: str = 'skip',
                 max_consecutive_skips: int = 20) -> None:
        if policy not in NONFINITE_POLICIES:
            raise ValueError(f'nonfinite_policy must be one of '
                             f'{NONFINITE_POLICIES}, got {policy!r}')
        if max_consecutive_skips < 0:
            raise ValueError('nonfinite_max_consecutive_skips must be >= 0 '
                             f'(0: never stop), got {max_consecutive_skips}')
        self.policy = policy
        self.max_consecutive_skips = max_consecutive_skips
        self.consecutive: Dict[str, int] = {}

    def applied(self, part: str) -> None:
        """An update of ``part`` was applied: its run of skips ends."""
        self.consecutive[part] = 0

    def loss_problem(self, loss: Tensor,
                     losses: Optional[Dict[str, Tensor]] = None
                     ) -> Optional[str]:
        """What is wrong with ``loss`` on any rank (one collective under
        ``torch.distributed``), None when it is finite everywhere."""
        if not self.any_rank(~torch.isfinite(loss.detach()).all()):
            return None
        terms = self.nonfinite_terms(losses if losses is not None else
                                     {'loss': loss})
        return ('non-finite loss ' + ', '.join(terms) if terms else
                'non-finite loss on another rank')

    def gradient_problem(self, optim_wrapper, module: nn.Module,
                         loss: Tensor) -> Optional[str]:
        """What is wrong with the (averaged) gradients of ``module``, None
        when they are finite or the wrapper's loss scaler checks them."""
        if not self.check_grads(optim_wrapper) or \
                self.grads_finite(module):
            return None
        names = [n for n, p in module.named_parameters()
                 if p.grad is not None and not torch.isfinite(p.grad).all()]
        shown = ', '.join(names[:5]) + (
            f' (+{len(names) - 5} more)' if len(names) > 5 else '')
        return (f'non-finite gradients of {shown} (finite loss '
                f'{float(loss.detach()):.4g})')

    def skip_or_raise(self, optim_wrapper, part: str, what: str,
                      snapshot: Optional[BufferSnapshot], counter: Tensor,
                      it: int) -> None:
        """Drop the update: zero the gradients, restore ``snapshot``, then
        raise (``'raise'``) or count it in ``counter`` and warn
        (``'skip'``).

        Args:
            optim_wrapper (OptimWrapper): The part's wrapper.
            part (str): Name of the part in messages.
            what (str): What was not finite.
            snapshot (BufferSnapshot, optional): Buffers to restore.
            counter (Tensor): Skipped-update counter, incremented in place.
            it (int): The runner's iteration (0-based).
        """
        where = (f'{what} in the {part} update at iteration {it + 1} '
                 f'(runner.iter={it})')
        optim_wrapper.zero_grad()
        if snapshot is not None:
            snapshot.restore()
        if self.policy == 'raise':
            raise NonFiniteLossError(
                f'UDASegmentor: {where}; training stopped '
                "(model.nonfinite_policy='raise'; 'skip' skips such "
                'updates instead).')
        with torch.no_grad():
            counter.add_(1)
        print_log(
            f'UDASegmentor: {where}; the update is skipped '
            f"(nonfinite_policy='skip', {int(counter)} skipped "
            'so far).',
            logger='current',
            level=logging.WARNING)
        run = self.consecutive.get(part, 0) + 1
        self.consecutive[part] = run
        if self.max_consecutive_skips and run >= self.max_consecutive_skips:
            raise NonFiniteLossError(
                f'UDASegmentor: training diverged: {run} consecutive '
                f'{part} updates skipped for non-finite values, the last '
                f'one: {where}. Lower the learning rate (or the loss '
                'weights of the named terms), or raise '
                'model.nonfinite_max_consecutive_skips (0 never stops).')

    def any_rank(self, flag: Tensor) -> bool:
        """``flag`` (a bool tensor) or-ed over all ranks (one collective
        under ``torch.distributed``, then one host sync)."""
        flag = flag.detach().reshape(()).to(torch.int32)
        all_reduce(flag, op='max')  # no-op outside distributed training
        return bool(flag.item())

    @staticmethod
    def grads_finite(module: nn.Module) -> bool:
        """Whether every gradient of ``module`` is finite (one fused
        max-abs reduction, one host sync)."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return True
        return bool(torch.isfinite(get_total_norm(grads, float('inf'))))

    @staticmethod
    def nonfinite_terms(losses: Dict[str, Tensor]) -> List[str]:
        """``'name=value'`` of every loss term (keys with ``loss``, as summed
        by ``parse_losses``) that is not finite."""
        terms = []
        for name, value in losses.items():
            if 'loss' not in name:
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                v = torch.as_tensor(v).detach()
                if not torch.isfinite(v).all():
                    shown = v.float().sum() if v.numel() > 1 else v
                    terms.append(f'{name}={float(shown)}')
                    break
        return terms

    @staticmethod
    def check_grads(optim_wrapper) -> bool:
        """Whether the gradients need a test: not under
        ``AmpOptimWrapper``, whose loss scaler skips steps with inf/NaN
        gradients itself (scaled fp16 gradients overflow by design)."""
        return getattr(optim_wrapper, 'loss_scaler', None) is None
