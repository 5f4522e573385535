"""Logs label-free signals of the target predictions at every validation."""
import copy
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import DATASETS, HOOKS

from ...evaluation.label_free_signals import SignalAccumulator, image_signals


def _inference_pipeline(cfg) -> List[dict]:
    from ...apis.export import _test_pipeline
    return _test_pipeline(cfg)


@HOOKS.register_module()
class LabelFreeSignalsHook(Hook):
    """Label-free checkpoint-selection signals on the target training set.

    After every validation epoch, ``num_images`` images of the target
    training set (evenly spaced over it, the same ones every time; see
    :meth:`target_dataset_cfg`), loaded
    with the config's test pipeline (no labels, no random transform), go
    through the student - and the momentum teacher, when the model has one.
    Logged as ``val/proxy.<name>`` (see
    :mod:`mmseg_uda.evaluation.label_free_signals`): ``max_prob``,
    ``entropy``, ``head_disagreement`` (two classifiers) and
    ``teacher_disagreement`` (SAC). Nothing here reads a target label, so
    the values can rank checkpoints of a run on unlabelled data; how well
    they track target mIoU is measured in the README.

    Without target labels there may be no validation at all: with
    ``interval`` the signals are also computed every ``interval`` training
    iterations (set it to the checkpoint interval to score every
    checkpoint) and written to the log and the visualizer's
    ``scalars.json`` as ``proxy.<name>`` at that step.

    The hook draws no random numbers (and in validation runs inside it,
    whose RNG states ``RNGStateHook`` restores), so training is unchanged.

    Args:
        num_images (int): Target images per evaluation. Defaults to 8.
        dataset_key (str): Key of the target set in the ``UDADataset``
            config of ``train_dataloader.dataset`` (else the train dataset
            itself is used). Defaults to 'target'.
        prefix (str): Prefix of the logged names. Defaults to 'proxy.'.
        interval (int, optional): Also compute every ``interval`` training
            iterations. Defaults to None (only at validation).
        priority (str): Runs after ``RuntimeInfoHook`` and before
            ``LoggerHook``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 num_images: int = 8,
                 dataset_key: str = 'target',
                 prefix: str = 'proxy.',
                 interval: Optional[int] = None,
                 priority: Optional[str] = None) -> None:
        if num_images < 1:
            raise ValueError(f'num_images must be >= 1, got {num_images}')
        self.num_images = num_images
        self.dataset_key = dataset_key
        self.prefix = prefix
        self.interval = interval
        if priority is not None:
            self.priority = priority
        self._dataset = None
        self._indices: List[int] = []

    def target_dataset_cfg(self, cfg) -> dict:
        """The target images: ``train_dataloader.dataset.<dataset_key>``
        (a ``UDADataset``), the wrapped set of a ``PseudoLabelDataset``
        (stage II), else - source-only or oracle runs, whose training set
        is not the unlabelled target split - the validation set (its
        labels are not read)."""
        ds_cfg = cfg.train_dataloader.dataset
        if self.dataset_key in ds_cfg:
            ds_cfg = ds_cfg[self.dataset_key]
        elif ds_cfg.get('type') == 'PseudoLabelDataset':
            ds_cfg = ds_cfg['dataset']
        elif cfg.get('val_dataloader'):
            ds_cfg = cfg.val_dataloader.dataset
        return copy.deepcopy(ds_cfg.to_dict() if isinstance(
            ds_cfg, ConfigDict) else dict(ds_cfg))

    def _build_dataset(self, runner):
        cfg = runner.cfg
        ds_cfg = self.target_dataset_cfg(cfg)
        ds_cfg['pipeline'] = _inference_pipeline(cfg)
        if 'with_labels' in ds_cfg:
            ds_cfg['with_labels'] = False
        dataset = DATASETS.build(ds_cfg)
        n = len(dataset)
        k = min(self.num_images, n)
        self._indices = sorted(
            set(np.linspace(0, n - 1, k).round().astype(int).tolist()))
        self._dataset = dataset

    @torch.no_grad()
    def compute(self, runner) -> Dict[str, float]:
        """Mean signals over the selected target images."""
        if self._dataset is None:
            self._build_dataset(runner)
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        student = getattr(model, 'segmentor', model)
        teacher = getattr(model, 'teacher', None)
        teacher = teacher.module if teacher is not None else None
        was_training = model.training
        model.eval()
        acc = SignalAccumulator()
        try:
            for idx in self._indices:
                batch = pseudo_collate([self._dataset[idx]])
                inputs = model.data_preprocessor(batch, False)['inputs']
                acc.add(image_signals(student, inputs, teacher),
                        inputs.shape[-2] * inputs.shape[-1])
        finally:
            model.train(was_training)
        return acc.means()

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Compute and log ``val/proxy.<name>``."""
        for key, value in self.compute(runner).items():
            name = self.prefix + key
            if metrics is not None:
                metrics[name] = value
            runner.message_hub.update_scalar(f'val/{name}', value)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """With ``interval``: compute, log and add to ``scalars.json``."""
        if not self.interval or not self.every_n_train_iters(
                runner, self.interval):
            return
        signals = {self.prefix + k: v
                   for k, v in self.compute(runner).items()}
        runner.visualizer.add_scalars(signals, step=runner.iter + 1)
        runner.logger.info(f'Iter(train) [{runner.iter + 1}] ' + '  '.join(
            f'{k}: {v:.4f}' for k, v in signals.items()))
