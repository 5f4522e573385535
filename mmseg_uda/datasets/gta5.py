from typing import Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from .mapped_label_mixin import MappedLabelMixin


@DATASETS.register_module()
class GTA5Dataset(MappedLabelMixin, BaseSegDataset):
    """GTA5 (Playing for Data) synthetic driving dataset.

    Layout (the official release)::

        data_root/
        ├── images/00001.png ...      # 5-digit names, RGB
        └── labels/00001.png ...      # palette PNG, indices = label ids

    Labels are palette-mode PNGs whose pixel *indices* are Cityscapes label
    ids; :class:`LoadMappedAnnotations` reads the indices (not the colours)
    and maps them on the fly with ``label_mapping`` (default
    ``'cityscapes19'``: the 19 Cityscapes classes).

    Size mismatch policy: a few released pairs have a label whose size
    differs from its image. :class:`LoadMappedAnnotations` resizes such a
    label to the image size with nearest-neighbour interpolation and emits a
    ``LabelWarning`` naming the file (once per file and worker process).

    Example pipeline::

        [dict(type='LoadCheckedImageFromFile'),
         dict(type='LoadMappedAnnotations'), ..., dict(type='PackSegInputs')]

    Args:
        label_mapping (str, optional): Mapping of Cityscapes label ids:
            ``'cityscapes19'`` (default), ``'cityscapes16'`` or
            ``'cityscapes_to_robotcar9'``; None if the label files were
            already converted to 19-class train ids.
        with_labels (bool): Whether samples carry labels. Defaults to True.
        img_suffix (str): Defaults to '.png'.
        seg_map_suffix (str): Defaults to '.png'.
        data_prefix (dict): Defaults to
            ``dict(img_path='images', seg_map_path='labels')``.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``data_root``, ``ann_file`` = optional list of names such as
            ``00001``, ``pipeline``, ...).
    """
    DEFAULT_LABEL_MAPPING = 'cityscapes19'
    ID_SPACE = 'cityscapes'

    def __init__(self,
                 label_mapping: Optional[str] = 'cityscapes19',
                 with_labels: bool = True,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='labels'),
                 **kwargs) -> None:
        self._init_mapped_dataset(
            label_mapping, with_labels, img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix, data_prefix=data_prefix, **kwargs)
