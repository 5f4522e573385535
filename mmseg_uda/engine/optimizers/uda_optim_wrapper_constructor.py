"""One optimizer wrapper per trainable part of a UDA segmentor."""
import copy
from typing import Dict, Optional

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .guarded_optim_wrapper import GUARDED_TYPES


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class UDAOptimWrapperConstructor:
    """Build an :class:`OptimWrapperDict` for a UDA segmentor.

    MMEngine ships no constructor for several optimizers. A UDA segmentor
    trains its segmentation network with SGD and each discriminator with its
    own Adam. The model names its trainable parts through
    ``model.optim_groups()`` (an ordered ``{name: module}``, e.g.
    ``segmentor``, ``disc_primary``, ``disc_aux``); this constructor builds one
    wrapper per part with :class:`DefaultOptimWrapperConstructor` (so
    ``paramwise_cfg`` such as the 10x head learning rate works per part).

    The config gives one wrapper config per part name. A part whose name
    starts with ``disc_`` falls back to the ``discriminator`` entry, so a
    single Adam config serves every discriminator::

        optim_wrapper = dict(
            constructor='UDAOptimWrapperConstructor',
            segmentor=dict(type='OptimWrapper', optimizer=dict(type='SGD', ...),
                           paramwise_cfg=...),
            discriminator=dict(type='OptimWrapper',
                               optimizer=dict(type='Adam', lr=1e-4,
                                              betas=(0.9, 0.99))))

    ``param_scheduler`` may then be a list (applied to every wrapper) or a dict
    keyed by part name; the runner steps and checkpoints all of them.

    Every part's update averages its gradients over the processes and skips
    (or stops on) non-finite values (``GuardedUpdateMixin.guarded_update``):
    ``type='OptimWrapper'`` / ``'AmpOptimWrapper'`` are built as their
    guarded versions ``GuardedOptimWrapper`` / ``GuardedAmpOptimWrapper``
    (same state dicts); ``BF16AutocastOptimWrapper`` is guarded itself.

    Args:
        optim_wrapper_cfg (dict): ``{part name or 'discriminator': cfg}``.
        paramwise_cfg (dict, optional): Must be None: give ``paramwise_cfg``
            inside each part's config.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError(
                'UDAOptimWrapperConstructor: put paramwise_cfg inside the '
                'config of the part it applies to (e.g. optim_wrapper.'
                'segmentor.paramwise_cfg), not at the top level.')
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper_cfg))

    def _cfg_for(self, name: str) -> dict:
        if name in self.optim_wrapper_cfg:
            return copy.deepcopy(self.optim_wrapper_cfg[name])
        if name.startswith('disc_') and \
                'discriminator' in self.optim_wrapper_cfg:
            return copy.deepcopy(self.optim_wrapper_cfg['discriminator'])
        hint = (" (or a shared 'discriminator' entry)"
                if name.startswith('disc_') else '')
        raise KeyError(
            f'optim_wrapper has no optimizer config for the trainable part '
            f'{name!r}: add optim_wrapper.{name}{hint}. Configured entries: '
            f'{sorted(self.optim_wrapper_cfg)}')

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        if not hasattr(model, 'optim_groups'):
            raise TypeError(
                f'UDAOptimWrapperConstructor needs a model with optim_groups() '
                f'(e.g. UDASegmentor), got {type(model).__name__}')
        groups: Dict[str, nn.Module] = model.optim_groups()
        known = set(groups) | {'discriminator'}
        unused = [k for k in self.optim_wrapper_cfg if k not in known]
        if unused:
            raise KeyError(f'optim_wrapper entries {unused} match no trainable '
                           f'part of the model (parts: {list(groups)})')
        wrappers = {}
        for name, module in groups.items():
            cfg = self._cfg_for(name)
            kind = cfg.get('type', 'OptimWrapper')
            if isinstance(kind, str):
                bare = kind.rpartition('.')[2]
                if bare in GUARDED_TYPES:
                    cfg['type'] = GUARDED_TYPES[bare]
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(cfg, paramwise)(
                module)
        return OptimWrapperDict(**wrappers)
