from typing import Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from .mapped_label_mixin import MappedLabelMixin


@DATASETS.register_module()
class SynthiaDataset(MappedLabelMixin, BaseSegDataset):
    """SYNTHIA-RAND-CITYSCAPES synthetic dataset.

    Layout (the official release)::

        data_root/
        ├── RGB/0000000.png ...           # 7-digit names
        └── GT/LABELS/0000000.png ...     # 16-bit, 3 channels

    Label files are 16-bit 3-channel PNGs with the SYNTHIA class id in the
    first (R) channel and instance ids in the others;
    :class:`LoadMappedAnnotations` takes the R channel (``label_channel``)
    and maps it with ``label_mapping``.

    Class protocols:

    - ``'synthia16'`` (default): 16 classes, Cityscapes order without
      terrain, truck and train. Evaluate the Cityscapes target with
      ``CityscapesRawDataset(label_mapping='cityscapes16')``. Papers report
      mIoU over these 16 classes and mIoU* over the 13 classes left after
      also excluding wall, fence and pole (``MIOU13_EXCLUDED``); mIoU* is a
      subset average of the same 16-class predictions, not another model.
    - ``'synthia19'``: the 19 Cityscapes train ids (terrain, truck and
      train never occur).

    Args:
        label_mapping (str, optional): ``'synthia16'`` (default) or
            ``'synthia19'``; None for labels already converted to 16-class
            train ids.
        with_labels (bool): Whether samples carry labels. Defaults to True.
        label_channel (str): Channel of the class ids. Defaults to 'R'.
        img_suffix (str): Defaults to '.png'.
        seg_map_suffix (str): Defaults to '.png'.
        data_prefix (dict): Defaults to
            ``dict(img_path='RGB', seg_map_path='GT/LABELS')``.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    DEFAULT_LABEL_MAPPING = 'synthia16'
    ID_SPACE = 'synthia'
    #: Classes left out of the 13-class mIoU* of the SYNTHIA protocol.
    MIOU13_EXCLUDED = ('wall', 'fence', 'pole')

    def __init__(self,
                 label_mapping: Optional[str] = 'synthia16',
                 with_labels: bool = True,
                 label_channel: str = 'R',
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='RGB', seg_map_path='GT/LABELS'),
                 **kwargs) -> None:
        self._init_mapped_dataset(
            label_mapping, with_labels, label_channel=label_channel,
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix, **kwargs)
