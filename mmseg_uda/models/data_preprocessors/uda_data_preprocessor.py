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

    Items without a target image (``None`` entries, from
    :class:`UDABatchSampler` with ``target_batch_size`` below the batch
    size) are dropped, so the target batch may be smaller than the source
    batch; a batch with no target image at all has no target keys.

    Args:
        **kwargs: See :class:`SegDataPreProcessor`.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        out = super().forward(
            dict(inputs=data['inputs'],
                 data_samples=data.get('data_samples')), training)
        if 'target_inputs' in data:
            inputs = data['target_inputs']
            samples = data.get('target_data_samples')
            if isinstance(inputs, (list, tuple)) and any(
                    x is None for x in inputs):
                keep = [i for i, x in enumerate(inputs) if x is not None]
                if not keep:
                    return out
                inputs = [inputs[i] for i in keep]
                samples = None if samples is None else [
                    samples[i] for i in keep]
            target = super().forward(
                dict(inputs=inputs, data_samples=samples), training)
            out['target_inputs'] = target['inputs']
            out['target_data_samples'] = target['data_samples']
        return out
