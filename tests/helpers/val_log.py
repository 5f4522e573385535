# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Reading and checking the validation results that a training log prints.

A validation prints mmseg's per-class table (``per class results``: IoU and
accuracy of every class, computed by mmseg's ``IoUMetric``) and then the
metric line ``Iter(val) [n/n]  aAcc: ..  mIoU: ..  mAcc: ..  IoU.<class>:
..`` (UDAIoUMetric's values). :func:`check_val_metrics` parses both and
checks the numbers against each other, so a test fails when the metric line
is missing, empty or inconsistent - not merely when the word ``mIoU`` is
absent (it is in every config printout).
"""
import math
import re
from typing import Dict, Optional, Sequence

_PAIR = re.compile(r'([A-Za-z][\w .*]*?): (nan|-?\d+(?:\.\d+)?)(?=\s{2}|\s*$)')


def _num(text: str) -> float:
    return float('nan') if text == 'nan' else float(text)


def metric_line(log: str) -> Dict[str, float]:
    """``key -> value`` of the last validation metric line of ``log``."""
    lines = [
        line for line in log.splitlines()
        if 'Iter(val)' in line and 'mIoU:' in line
    ]
    assert lines, 'no validation metric line (Iter(val) ... mIoU: ...)'
    body = lines[-1].split('Iter(val)', 1)[1].split(']', 1)[1]
    return {k.strip(): _num(v) for k, v in _PAIR.findall(body)}


def class_table(log: str) -> Dict[str, Dict[str, float]]:
    """``class -> {'IoU': .., 'Acc': ..}`` of the per-class table of the
    last validation: the first table printed after the last training
    iteration before the last metric line (a model with a momentum teacher
    prints the teacher's table after the student's, ``TeacherEvalHook``)."""
    end = max(i for i, line in _line_starts(log)
              if 'Iter(val)' in line and 'mIoU:' in line)
    trained = [i for i, line in _line_starts(log)
               if 'Iter(train)' in line and i < end]
    start = log.find('per class results:', trained[-1] if trained else 0)
    assert 0 <= start < end, 'no per-class results table in the log'
    rows = {}
    header = None
    for line in log[start:].splitlines()[1:]:
        if line.startswith('+'):
            if header is not None and rows:
                break
            continue
        if not line.startswith('|'):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip('|').split('|')]
        if header is None:
            header = cells
            continue
        rows[cells[0]] = {h: _num(c) for h, c in zip(header[1:], cells[1:])}
    return rows


def _line_starts(log: str):
    """``(offset, line)`` of every line of ``log``."""
    offset = 0
    for line in log.splitlines(keepends=True):
        yield offset, line
        offset += len(line)


def _nanmean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept)


def check_val_metrics(log: str, num_classes: int,
                      subsets: Optional[Dict[str, Sequence[str]]] = None
                      ) -> Dict[str, float]:
    """Check the last validation of ``log`` and return its metric line.

    - the table has ``num_classes`` classes and the metric line an
      ``IoU.<class>`` for each, equal to the table's IoU (nan for classes
      that occur neither in the labels nor in the predictions);
    - ``mIoU`` and ``mAcc`` are the nan-means of the table's columns and
      within [0, 100]; the pixel accuracy ``aAcc`` is in (0, 100];
    - every ``subsets`` mean (e.g. ``mIoU*``) is the nan-mean of the
      table's IoU over its classes.
    """
    metrics = metric_line(log)
    table = class_table(log)
    assert len(table) == num_classes, sorted(table)
    for name, row in table.items():
        value = metrics[f'IoU.{name}']
        if math.isnan(row['IoU']):
            assert math.isnan(value), name
        else:
            assert abs(value - row['IoU']) <= 0.0051, (name, value, row)
    assert 0 <= metrics['mIoU'] <= 100
    assert abs(metrics['mIoU'] -
               _nanmean([r['IoU'] for r in table.values()])) <= 0.011, metrics
    assert abs(metrics['mAcc'] -
               _nanmean([r['Acc'] for r in table.values()])) <= 0.011, metrics
    assert 0 < metrics['aAcc'] <= 100
    for key, names in (subsets or {}).items():
        expected = _nanmean([table[n]['IoU'] for n in names])
        assert abs(metrics[key] - expected) <= 0.011, (key, metrics[key])
    return metrics
