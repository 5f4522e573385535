from .uda_iou_metric import UDAIoUMetric  # noqa: F401
