"""FinalValMetricsHook: the validation at the last training iteration
written as the run's test metrics, only where it can stand for the test.

The end-to-end check (the file equals ``tools/test.py --json-out`` on the
last checkpoint, metric for metric, with SAC's teacher metrics added by a
later hook left out) is ``test_train_synthetic.test_run_benchmark_manifest``.
"""
import copy
import json
from types import SimpleNamespace

from mmengine.config import Config

from mmseg_uda.engine.hooks import FinalValMetricsHook, TeacherEvalHook
from mmseg_uda.engine.hooks.final_val_metrics_hook import \
    val_differs_from_test

LOADER = dict(batch_size=1, num_workers=2, persistent_workers=True,
              sampler=dict(type='DefaultSampler', shuffle=False),
              dataset=dict(type='CityscapesDataset', data_root='data/cs',
                           data_prefix=dict(img_path='leftImg8bit/val')))
EVALUATOR = dict(type='UDAIoUMetric', iou_metrics=['mIoU'])


def _cfg(**changes):
    cfg = dict(val_dataloader=copy.deepcopy(LOADER),
               test_dataloader=copy.deepcopy(LOADER),
               val_evaluator=dict(EVALUATOR), test_evaluator=dict(EVALUATOR),
               val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop'))
    cfg.update(changes)
    return Config(cfg)


def _runner(tmp_path, cfg, it=100, max_iters=100):
    return SimpleNamespace(cfg=cfg, iter=it, max_iters=max_iters,
                           work_dir=str(tmp_path))


def _val(hook, runner, metrics, train=True):
    if train:
        hook.before_train(runner)
    hook.after_val_epoch(runner, metrics=dict(metrics))


METRICS = {'aAcc': 91.25, 'mIoU': 40.5, 'mAcc': 50.0, 'IoU.road': 80.0,
           'IoU.sky': float('nan')}


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_writes_the_last_validation_only(tmp_path):
    hook = FinalValMetricsHook(out_file='final.json')
    out = tmp_path / 'final.json'
    # an earlier validation of the run writes nothing
    _val(hook, _runner(tmp_path, _cfg(), it=50), METRICS)
    assert not out.exists()
    # the validation at max_iters: the evaluator's metrics as floats
    _val(hook, _runner(tmp_path, _cfg()), METRICS)
    got = _read(out)
    assert list(got) == list(METRICS)
    for key, value in METRICS.items():
        assert (got[key] == value) or (value != value and got[key] != got[key])
    assert not (tmp_path / 'final.json.tmp').exists()


def test_not_written_outside_training(tmp_path):
    """A validation that is not part of a training (``runner.val()`` of a
    loaded checkpoint: iter 0 == max_iters 0, or a train loop left at its
    end) is not the run's last validation."""
    hook = FinalValMetricsHook(out_file='final.json')
    _val(hook, _runner(tmp_path, _cfg(), it=0, max_iters=0), METRICS,
         train=False)
    assert not (tmp_path / 'final.json').exists()
    runner = _runner(tmp_path, _cfg())
    hook.before_train(runner)
    hook.after_train(runner)
    hook.after_val_epoch(runner, metrics=dict(METRICS))
    assert not (tmp_path / 'final.json').exists()


def test_absolute_out_file(tmp_path):
    out = tmp_path / 'elsewhere' / 'm.json'
    hook = FinalValMetricsHook(out_file=str(out))
    _val(hook, _runner(tmp_path / 'work', _cfg()), METRICS)
    assert _read(out)['mIoU'] == 40.5


def test_val_differs_from_test():
    assert val_differs_from_test(_cfg()) == []
    # worker settings do not change the data
    loader = copy.deepcopy(LOADER)
    loader.update(num_workers=0, persistent_workers=False)
    assert val_differs_from_test(_cfg(test_dataloader=loader)) == []
    # another split, pipeline or batch size does
    split = copy.deepcopy(LOADER)
    split['dataset']['data_prefix']['img_path'] = 'leftImg8bit/test'
    assert val_differs_from_test(_cfg(test_dataloader=split)) == \
        ['val_dataloader/test_dataloader']
    batch = dict(copy.deepcopy(LOADER), batch_size=2)
    assert val_differs_from_test(_cfg(val_dataloader=batch)) == \
        ['val_dataloader/test_dataloader']
    # another evaluator (mIoU* subsets, extra metrics) or loop setting
    assert val_differs_from_test(_cfg(test_evaluator=dict(
        EVALUATOR, iou_metrics=['mIoU', 'mDice']))) == \
        ['val_evaluator/test_evaluator']
    assert val_differs_from_test(_cfg(val_cfg=dict(type='ValLoop',
                                                   fp16=True))) == \
        ['val_cfg/test_cfg']
    assert val_differs_from_test(_cfg(test_evaluator=[EVALUATOR])) == \
        ['val_evaluator/test_evaluator']


def test_not_written_when_validation_differs_from_test(tmp_path):
    hook = FinalValMetricsHook(out_file='final.json')
    cfg = _cfg(test_evaluator=dict(EVALUATOR, iou_metrics=['mDice']))
    _val(hook, _runner(tmp_path, cfg), METRICS)
    assert not (tmp_path / 'final.json').exists()


def test_runs_before_hooks_that_add_metrics():
    """MMEngine calls hooks in priority order: this one must see the
    evaluator's metrics before TeacherEvalHook adds ``teacher.*``."""
    from mmengine.runner.priority import get_priority
    assert get_priority(FinalValMetricsHook('f.json').priority) < \
        get_priority(TeacherEvalHook().priority)
