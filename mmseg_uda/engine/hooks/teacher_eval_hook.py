"""Evaluates SAC's momentum teacher at every validation."""
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class TeacherEvalHook(Hook):
    """Validate the momentum teacher next to the student.

    MMEngine's ``ValLoop`` evaluates ``model.predict`` - the student of a
    ``UDASegmentor``. After each validation epoch this hook runs the same
    validation set through the teacher (``predict_net='teacher'``) with the
    loop's own evaluator and logs its metrics with the prefix ``teacher.``
    (``teacher.mIoU``, ``teacher.IoU.<class>``...), so that a SAC run's log
    and ``vis_data/scalars.json`` compare both networks at every validation.
    Written as a hook rather than a custom loop so that it composes with
    any validation loop and is switched on by the method base
    (``configs/_base_/uda/sac.py``) alone. A model without a teacher is
    skipped.

    Args:
        prefix (str): Prefix of the teacher's metric names.
            Defaults to 'teacher.'.
        priority (str): Runs after ``RuntimeInfoHook`` and before
            ``LoggerHook`` (which prints the ``val/`` scalars).
    """

    priority = 'NORMAL'

    def __init__(self, prefix: str = 'teacher.',
                 priority: Optional[str] = None) -> None:
        self.prefix = prefix
        if priority is not None:
            self.priority = priority

    @staticmethod
    def _uda_model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    @torch.no_grad()
    def evaluate_teacher(self, runner) -> Dict[str, float]:
        """The val loop's metrics of the teacher's predictions."""
        model = self._uda_model(runner)
        loop = runner.val_loop
        previous = model.predict_net
        model.predict_net = 'teacher'
        try:
            for data_batch in loop.dataloader:
                outputs = runner.model.val_step(data_batch)
                loop.evaluator.process(
                    data_samples=outputs, data_batch=data_batch)
            return loop.evaluator.evaluate(len(loop.dataloader.dataset))
        finally:
            model.predict_net = previous

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Evaluate the teacher and log ``teacher.<metric>``."""
        if getattr(self._uda_model(runner), 'teacher', None) is None:
            return
        for key, value in self.evaluate_teacher(runner).items():
            name = self.prefix + key
            if metrics is not None:
                metrics[name] = value
            runner.message_hub.update_scalar(f'val/{name}', value)
