# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Write the metrics of a run's last validation as its test metrics."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from .atomic_checkpoint_hook import write_text_atomic


# dataloader settings that change how fast data comes, not which
LOADER_SPEED_KEYS = ('num_workers', 'persistent_workers', 'pin_memory',
                     'prefetch_factor')


def val_differs_from_test(cfg) -> List[str]:
    """The parts of ``cfg`` in which its validation differs from its test.

    The validation evaluates what ``tools/test.py`` evaluates when both use
    the same dataloader (dataset, pipeline, split, sampler, batch size; the
    worker settings of ``LOADER_SPEED_KEYS`` aside), the same evaluator and
    the same loop settings (``val_cfg`` / ``test_cfg`` apart from the loop
    type, e.g. ``fp16``).

    Args:
        cfg (Config): A full (merged) config.

    Returns:
        list[str]: The names of the differing parts; empty when the last
        validation can stand for the test.
    """

    def without(name, keys):
        part = cfg.get(name)
        if not isinstance(part, dict):  # None, or a list of evaluators
            return part
        return {k: v for k, v in part.items() if k not in keys}

    differs = []
    for val, test, ignored in (
            ('val_dataloader', 'test_dataloader', LOADER_SPEED_KEYS),
            ('val_evaluator', 'test_evaluator', ()),
            ('val_cfg', 'test_cfg', ('type', ))):
        if without(val, ignored) != without(test, ignored):
            differs.append(f'{val}/{test}')
    return differs


@HOOKS.register_module()
class FinalValMetricsHook(Hook):
    """Save the validation at the last training iteration as the run's test
    metrics, so that a run need not be evaluated again by ``tools/test.py``.

    MMEngine's ``IterBasedTrainLoop`` validates at ``max_iters`` (also when
    it is not a multiple of ``val_interval``), after the checkpoint of that
    iteration is saved. When the config validates and tests the same way
    (:func:`val_differs_from_test` is empty), that validation computes the
    metrics ``tools/test.py CONFIG LAST_CHECKPOINT`` would: the same
    weights, data, pipeline and evaluator. This hook writes them as the JSON
    ``tools/test.py --json-out`` writes (metric name -> float). It writes
    nothing when training stopped early, when the run does not validate at
    its last iteration, or when validation and test differ (it logs why);
    the caller then runs ``tools/test.py``.

    It runs before the ``NORMAL`` hooks that add their own entries to the
    validation's metrics (``TeacherEvalHook``'s ``teacher.*``,
    ``LabelFreeSignalsHook``'s signals), so the file holds the evaluator's
    metrics only, as a test run's would. ``tools/train.py --val-json-out
    FILE`` adds it.

    Args:
        out_file (str): The JSON path (relative paths: in the work dir).
        priority (str): Defaults to 'ABOVE_NORMAL' (see above).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, out_file: str,
                 priority: Optional[str] = None) -> None:
        self.out_file = out_file
        self._training = False
        if priority is not None:
            self.priority = priority

    def before_train(self, runner) -> None:
        self._training = True

    def after_train(self, runner) -> None:
        self._training = False

    @master_only
    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Write ``metrics`` when this is the validation at ``max_iters``."""
        if metrics is None or not self._training or \
                runner.iter != runner.max_iters:
            return
        differs = val_differs_from_test(runner.cfg)
        if differs:
            print_log(f'{type(self).__name__}: validation and test differ in '
                      f'{differs}; not writing {self.out_file}',
                      logger='current')
            return
        path = osp.join(runner.work_dir, self.out_file)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        write_text_atomic(
            path,
            json.dumps({k: float(v) for k, v in metrics.items()}, indent=2))
