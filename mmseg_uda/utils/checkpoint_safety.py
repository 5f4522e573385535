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

Importing :mod:`mmseg_uda` calls :func:`register_safe_globals` once.
"""
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
    # dtype classes (np.dtypes.Float64DType, ...) appear when a dtype object is
    # pickled (arrays and numpy scalars of any numeric type, and bools).
    for name in ('Float64DType', 'Float32DType', 'Float16DType', 'Int64DType',
                 'Int32DType', 'Int16DType', 'Int8DType', 'UInt8DType',
                 'UInt16DType', 'UInt32DType', 'UInt64DType', 'BoolDType'):
        cls = getattr(getattr(np, 'dtypes', None), name, None)
        if cls is not None:
            objs.append(cls)
    return objs


def mmengine_checkpoint_globals():
    """Return the exact list of non-tensor globals an MMEngine checkpoint
    needs.

    Returns:
        list: Classes and functions to pass to
        :func:`torch.serialization.add_safe_globals`.
    """
    return [HistoryBuffer] + _numpy_globals()


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
