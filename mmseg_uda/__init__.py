"""mmseg_uda: unsupervised domain adaptation for MMSegmentation 1.x.

Importing this package registers every component into MMSegmentation's
registries (``mmseg.registry.MODELS``, ``DATASETS``, ``TRANSFORMS``,
``HOOKS``, ``DATA_SAMPLERS``, ``METRICS``, ...). Configs load it with::

    custom_imports = dict(imports=['mmseg_uda'], allow_failed_imports=False)
    default_scope = 'mmseg'
"""
from .version import __version__  # noqa: F401
from .utils import checkpoint_safety  # noqa: F401  (patches torch.load allow-list)
from .utils import mmengine_compat  # noqa: F401  (mmseg:: bases without pkg_resources)
from .utils import safe_checkpoint_loaders  # noqa: F401  (remote schemes weights-only)
from . import datasets  # noqa: F401,E402
from . import models  # noqa: F401,E402
from . import engine  # noqa: F401,E402
from . import evaluation  # noqa: F401,E402

__all__ = ['__version__']
