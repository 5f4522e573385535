"""Configuration checks that need both the model and the datasets (the
check itself: ``mmseg_uda/datasets/uda_dataset_check.py``)."""
import logging
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...datasets.label_mappings import IGNORE_INDEX


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

    Before every training iteration it also looks at the labels of the
    (source) batch: a batch whose every label pixel is the ignore index
    (255) trains nothing (loss 0, accuracy 100) and is reported with a
    warning naming its label files; ``max_ignore_only_batches`` such
    batches in a row (a label set that maps entirely to ignore: wrong
    label format, bit depth or mapping) stop the run with a ``ValueError``
    naming them.

    Args:
        priority (str, optional): Hook priority; defaults to 'VERY_HIGH' so
            the check runs before any other ``before_train`` work.
        max_ignore_only_batches (int): Consecutive all-ignore batches that
            raise; 0 disables the label check. Defaults to 10.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 priority: Optional[str] = None,
                 max_ignore_only_batches: int = 10) -> None:
        if priority is not None:
            self.priority = priority
        self._checked = set()
        self.max_ignore_only_batches = max_ignore_only_batches
        self._ignore_only_run = 0

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

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Report (and eventually refuse) batches with nothing to learn."""
        if not self.max_ignore_only_batches or not isinstance(
                data_batch, dict):
            return
        labelled = [
            s for s in data_batch.get('data_samples') or ()
            if 'gt_sem_seg' in s
        ]
        if not labelled:
            return
        if any((s.gt_sem_seg.data != IGNORE_INDEX).any() for s in labelled):
            self._ignore_only_run = 0
            return
        self._ignore_only_run += 1
        files = [
            s.metainfo.get('seg_map_path', s.metainfo.get('img_path'))
            for s in labelled
        ]
        msg = (f'iteration {runner.iter + 1}: every label pixel of the '
               f'training batch is the ignore index {IGNORE_INDEX}, so it '
               f'trains nothing (label files: {", ".join(map(str, files))})')
        if self._ignore_only_run >= self.max_ignore_only_batches:
            raise ValueError(
                f'UDADatasetCheckHook: {self._ignore_only_run} training '
                f'batches in a row have no valid label pixel; last one at '
                f'{msg}. The labels map entirely to ignore: check the label '
                'format (SYNTHIA labels are 16-bit), label_mapping and '
                'data_prefix. (default_hooks.uda_check.'
                'max_ignore_only_batches sets this limit.)')
        print_log(msg, logger='current', level=logging.WARNING)
