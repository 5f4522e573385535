from typing import Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from .mapped_label_mixin import MappedLabelMixin


@DATASETS.register_module()
class RobotCarDataset(MappedLabelMixin, BaseSegDataset):
    """Oxford RobotCar, cross-city split (Tsai et al., ICCV 2019 release).

    Layout of the ``Oxford_Robot_ICCV19`` folder::

        data_root/
        ├── train/NAME.png ...   # unlabelled target training images
        ├── val/NAME.png ...     # evaluation images
        └── anno/NAME.png ...    # 8-bit RobotCar ids of the val images

    Optional list files (``ann_file``) give one name per line, with or
    without the ``.png`` suffix. Labels are mapped on the fly with
    ``label_mapping`` (``'robotcar9'``: sky, person, two-wheel, automobile,
    sign, light, building, sidewalk, road). Train with the Cityscapes source
    ``CityscapesRawDataset(label_mapping='cityscapes_to_robotcar9')``.

    Typical configs::

        # target training set: no labels needed
        dict(type='RobotCarDataset', data_root=..., with_labels=False,
             data_prefix=dict(img_path='train'))
        # evaluation
        dict(type='RobotCarDataset', data_root=...,
             data_prefix=dict(img_path='val', seg_map_path='anno'))

    Args:
        label_mapping (str, optional): Defaults to ``'robotcar9'``; None
            for labels already converted to the 9 train ids.
        with_labels (bool): Whether samples carry labels. Defaults to True.
        img_suffix (str): Defaults to '.png'.
        seg_map_suffix (str): Defaults to '.png'.
        data_prefix (dict): Defaults to
            ``dict(img_path='val', seg_map_path='anno')``.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    DEFAULT_LABEL_MAPPING = 'robotcar9'
    ID_SPACE = 'robotcar'

    def __init__(self,
                 label_mapping: Optional[str] = 'robotcar9',
                 with_labels: bool = True,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='val', seg_map_path='anno'),
                 **kwargs) -> None:
        self._init_mapped_dataset(
            label_mapping, with_labels, img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix, data_prefix=data_prefix, **kwargs)
