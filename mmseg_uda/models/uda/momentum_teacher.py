"""The momentum (EMA) teacher of self-training."""
from typing import Optional

import torch.nn as nn
from mmengine.model import ExponentialMovingAverage


def build_momentum_teacher(student: nn.Module, cfg: Optional[dict]
                           ) -> Optional[ExponentialMovingAverage]:
    """A momentum teacher of ``student`` (in eval mode), or None.

    Args:
        student (nn.Module): The student segmentor.
        cfg (dict, optional): ``dict(momentum=0.01, interval=100)``;
            psi <- (1 - momentum) psi + momentum phi every ``interval``
            iterations, BN statistics included. Updated by
            ``EMATeacherHook``.
    """
    if cfg is None:
        return None
    teacher = ExponentialMovingAverage(
        student,
        momentum=cfg.get('momentum', 0.01),
        interval=cfg.get('interval', 100),
        update_buffers=True)
    teacher.eval()
    return teacher


def rebind_teacher(teacher: Optional[ExponentialMovingAverage]) -> None:
    """Re-bind the teacher's averaging targets after the model moved.

    mmengine's ``ExponentialMovingAverage`` writes its updates into
    ``avg_parameters``, detached views of the teacher's tensors taken at
    construction. Moving the model (``to``/``cuda``/``half``...; the
    runner does, after building it) gives the parameters new storage, so
    without re-binding the copy of the student and every EMA update would
    go to stale tensors and never reach the teacher.
    """
    if teacher is not None:
        teacher.avg_parameters = (
            teacher.module.state_dict() if teacher.update_buffers else
            dict(teacher.module.named_parameters()))
