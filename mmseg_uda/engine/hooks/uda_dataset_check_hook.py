"""Configuration checks that need both the model and the datasets."""
import logging
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class UDADatasetCheckHook(Hook):
    """Check that the datasets can feed the ``UDASegmentor`` before the
    first iteration.

    Neither the model nor the datasets see each other when they are built;
    the runner is the first place that has both. Before training (and
    before a stand-alone validation or test) this hook calls
    ``model.check_dataset(dataset, split)``, which raises a ``ValueError``
    naming the numbers and the dataset types when

    - the model has target consumers (adversary, self-training, ABN target
      pass, target memory regularisation) but the train dataset has no
      target part (not a ``UDADataset``): without the hook this fails only
      at the first ``train_step``;
    - a dataset's class count (each of source and target for a
      ``UDADataset``) differs from the model's ``num_classes``.

    (Source and target class counts are compared by ``UDADataset`` itself
    when it is built; a discriminator without an optimizer config is
    reported by ``UDAOptimWrapperConstructor`` when the runner builds the
    optimizers.)

    The schedule bases register it as a keyed default hook, which merges
    across bases and can be switched off with ``default_hooks.uda_check=
    None``::

        default_hooks = dict(uda_check=dict(type='UDADatasetCheckHook'))

    Models without ``check_dataset`` are skipped with a warning.

    Args:
        priority (str, optional): Hook priority; defaults to 'VERY_HIGH' so
            the check runs before any other ``before_train`` work.
    """

    priority = 'VERY_HIGH'

    def __init__(self, priority: Optional[str] = None) -> None:
        if priority is not None:
            self.priority = priority
        self._checked = set()

    def _check(self, runner, split: str, loop_name: str) -> None:
        if split in self._checked:
            return
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if not hasattr(model, 'check_dataset'):
            print_log(
                f'UDADatasetCheckHook: {type(model).__name__} has no '
                'check_dataset(); skipped',
                logger='current',
                level=logging.WARNING)
            self._checked.add(split)
            return
        loop = getattr(runner, loop_name, None)
        dataloader = getattr(loop, 'dataloader', None)
        dataset = getattr(dataloader, 'dataset', None)
        if dataset is not None:
            model.check_dataset(dataset, split)
            self._checked.add(split)

    def before_train(self, runner) -> None:
        """Check the train (and, if configured, the val) dataset."""
        self._check(runner, 'train', 'train_loop')
        self._check(runner, 'val', 'val_loop')

    def before_val(self, runner) -> None:
        """Check the val dataset (stand-alone validation)."""
        self._check(runner, 'val', 'val_loop')

    def before_test(self, runner) -> None:
        """Check the test dataset."""
        self._check(runner, 'test', 'test_loop')
