"""Load MMEngine checkpoints under torch>=2.6 with ``weights_only=True``.

torch 2.6 made ``torch.load(..., weights_only=True)`` the default. MMEngine
0.10.7 checkpoints carry, next to the tensors, the runner's message hub
(:class:`~mmengine.logging.HistoryBuffer` objects holding numpy arrays) and
numpy scalars in their meta data, so ``--resume`` and ``load_from`` fail with
``Unsupported global: numpy._core.multiarray.scalar`` and similar.

We do not turn ``weights_only`` off: that would execute arbitrary pickled code
from any checkpoint a user downloads. Instead we allow-list exactly the
globals that MMEngine checkpoints contain (found by saving real checkpoints of
every method and listing what the safe unpickler rejects; see
``tests/test_checkpoint_safety.py``). Anything else, e.g. an ``os.system``
payload, is still refused by torch's safe unpickler.

One of them needs care: every pickled :class:`HistoryBuffer` stores its
statistics methods as ``getattr(HistoryBuffer, 'min')`` (and 'max', 'mean',
'current'). Allow-listing the real ``builtins.getattr`` would let a crafted
file reach any attribute of an allowed object (``__globals__`` and from
there ``eval``). We therefore register, under the name
``builtins.getattr``, :func:`history_buffer_getattr`, which resolves only
statistics methods of :class:`HistoryBuffer` and refuses everything else.

Importing :mod:`mmseg_uda` calls :func:`register_safe_globals` once.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _numpy_globals():
    """numpy objects that pickled arrays, dtypes and scalars refer to.

    Their module paths changed in numpy 2 (``numpy._core``), so they are
    looked up on the installed numpy rather than named as strings.
    """
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    objs = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # numpy 2 pickles a dtype's state with its class (np.dtypes.Int64DType,
    # Float32DType, ...), which the safe unpickler must be allowed to BUILD.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        objs += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType') and isinstance(getattr(dtypes, name),
                                                     type)
        ]
    return objs


def history_buffer_getattr(obj, name):
    """The only ``getattr`` a safe checkpoint load may perform.

    Args:
        obj: Must be the :class:`HistoryBuffer` class.
        name (str): A statistics method of it ('min', 'max', 'mean',
            'current' or one registered with
            ``HistoryBuffer.register_statistics``).

    Returns:
        The function ``getattr(HistoryBuffer, name)``.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    allowed = set(HistoryBuffer._statistics_methods) | {
        'min', 'max', 'mean', 'current'
    }
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed \
            and not name.startswith('_'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}) while loading a checkpoint: '
        'only HistoryBuffer statistics methods may be resolved')


def mmengine_checkpoint_globals():
    """Return the exact list of non-tensor globals an MMEngine checkpoint
    needs.

    Returns:
        list: Classes and functions to pass to
        :func:`torch.serialization.add_safe_globals`.
    """
    return [HistoryBuffer, (history_buffer_getattr, 'builtins.getattr')
            ] + _numpy_globals()


_REGISTERED = False


def register_safe_globals():
    """Allow-list :func:`mmengine_checkpoint_globals` for ``torch.load``.

    Idempotent. ``weights_only`` stays at torch's default (True).
    """
    global _REGISTERED
    if _REGISTERED:
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    _REGISTERED = True


register_safe_globals()
