"""Data preprocessor for batches that hold a source and a target part."""
from typing import Any, Dict

from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class UDADataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` for UDA batches.

    A batch from :class:`UDADataset` holds ``inputs``/``data_samples`` (source)
    and ``target_inputs``/``target_data_samples`` (target). Both parts are
    normalised, converted to RGB and stacked by the same rules; target data
    samples may lack ``gt_sem_seg`` (unlabelled target training sets). Batches
    without a target part (validation, test, source-only) are processed
    exactly as by :class:`SegDataPreProcessor`.

    Args:
        **kwargs: See :class:`SegDataPreProcessor`.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        out = super().forward(
            dict(inputs=data['inputs'],
                 data_samples=data.get('data_samples')), training)
        if 'target_inputs' in data:
            target = super().forward(
                dict(inputs=data['target_inputs'],
                     data_samples=data.get('target_data_samples')), training)
            out['target_inputs'] = target['inputs']
            out['target_data_samples'] = target['data_samples']
        return out
