"""IoU metric with per-class values and class-subset means (mIoU*)."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class UDAIoUMetric(IoUMetric):
    """mmseg's :class:`IoUMetric` that also returns per-class IoU and means
    over named class subsets.

    UDA benchmarks report per-class IoU tables and, for SYNTHIA -> Cityscapes,
    both mIoU over the 16 shared classes and mIoU* over 13 of them (without
    wall, fence and pole). Both subsets are computed from the same confusion
    statistics, as in the papers: only the average changes.

    Args:
        class_subsets (dict[str, Sequence[str]], optional): Extra means to
            report, e.g. ``{'mIoU*': [...13 class names...]}``. Names must be
            classes of the dataset; an unknown name raises at evaluation.
        per_class (bool): Also return ``IoU.<class>`` entries. Defaults to
            True.
        **kwargs: Passed to :class:`IoUMetric` (``iou_metrics`` must contain
            ``'mIoU'``).
    """

    def __init__(self,
                 class_subsets: Optional[Dict[str, Sequence[str]]] = None,
                 per_class: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if 'mIoU' not in self.metrics:
            raise ValueError('UDAIoUMetric needs iou_metrics to contain mIoU')
        self.class_subsets = dict(class_subsets or {})
        self.per_class = per_class

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        results = tuple(zip(*results))
        intersect = sum(results[0]).numpy().astype(np.float64)
        union = sum(results[1]).numpy().astype(np.float64)
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = intersect / union
        classes = list(self.dataset_meta['classes'])
        if self.per_class:
            for name, value in zip(classes, iou):
                metrics[f'IoU.{name}'] = float(np.round(value * 100, 2))
        for subset_name, names in self.class_subsets.items():
            unknown = [n for n in names if n not in classes]
            if unknown:
                raise KeyError(f'class_subsets[{subset_name!r}] names classes '
                               f'{unknown} that the dataset does not have '
                               f'(classes: {classes})')
            idx = [classes.index(n) for n in names]
            metrics[subset_name] = float(
                np.round(np.nanmean(iou[idx]) * 100, 2))
        return metrics
