"""Keeps the momentum (EMA) teacher of a UDA segmentor up to date."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class EMATeacherHook(Hook):
    """Update the momentum network of a ``UDASegmentor`` (SAC).

    The teacher is ``model.teacher``, an mmengine
    :class:`~mmengine.model.ExponentialMovingAverage` of the student
    (``model.segmentor``) with ``update_buffers=True``: every ``interval``
    iterations

    .. math:: \\psi \\leftarrow \\gamma \\psi + (1 - \\gamma) \\phi

    for weights, biases and BN running statistics (SAC, Sec. 3; gamma = 0.99,
    T = 100, i.e. ``momentum = 1 - gamma = 0.01``). The teacher is a buffer-
    and parameter-holding submodule of the model, so it is saved in every
    checkpoint and restored by ``--resume`` together with its update counter
    (``teacher.steps``): a resumed run updates at the same iterations.

    Before the first iteration of a fresh run (``steps == 0``) the teacher is
    initialised as a copy of the student, after ``load_from`` has loaded the
    student's weights (e.g. the ABN checkpoint).

    Args:
        priority (str): Hook priority. Runs after the optimizer step.
    """

    priority = 'NORMAL'

    def __init__(self, priority: Optional[str] = None) -> None:
        if priority is not None:
            self.priority = priority

    @staticmethod
    def _model(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if getattr(model, 'teacher', None) is None:
            raise RuntimeError(
                'EMATeacherHook needs a model with a momentum teacher: set '
                'model.teacher=dict(momentum=..., interval=...) in the config')
        return model

    def before_train(self, runner) -> None:
        """Copy the student into the teacher at the start of a fresh run."""
        model = self._model(runner)
        if int(model.teacher.steps) == 0:
            model.teacher.update_parameters(model.segmentor)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Count the iteration; average every ``interval`` iterations."""
        model = self._model(runner)
        model.teacher.update_parameters(model.segmentor)
