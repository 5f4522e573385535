from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS
from .mapped_label_mixin import MappedLabelMixin

_TRAIN_IDS_SUFFIX = 'labelTrainIds.png'


@DATASETS.register_module()
class CityscapesRawDataset(MappedLabelMixin, CityscapesDataset):
    """Cityscapes read from the released ``*_gtFine_labelIds.png`` files.

    Unlike mmseg's :class:`CityscapesDataset`, no offline conversion to
    ``labelTrainIds`` is needed: raw label ids are mapped on the fly by
    :class:`LoadMappedAnnotations` with ``label_mapping``, which also
    selects the class list (``metainfo``):

    - ``'cityscapes19'`` (default): the 19 Cityscapes classes.
    - ``'cityscapes16'``: the 16 classes of the SYNTHIA -> Cityscapes
      protocol (terrain, truck and train are ignored).
    - ``'cityscapes_to_robotcar9'``: the 9 RobotCar classes, for Cityscapes
      as the source of Cityscapes -> RobotCar.

    Files converted with mmseg's converter also work: with
    ``seg_map_suffix='_gtFine_labelTrainIds.png'`` the files are read as
    19-class train ids without mapping (only with
    ``label_mapping='cityscapes19'``).

    Layout::

        data_root/
        ├── leftImg8bit/{train,val}/CITY/STEM_leftImg8bit.png
        └── gtFine/{train,val}/CITY/STEM_gtFine_labelIds.png

    Args:
        label_mapping (str): ``'cityscapes19'`` (default),
            ``'cityscapes16'`` or ``'cityscapes_to_robotcar9'``.
        with_labels (bool): Whether samples carry labels; False for the
            unlabelled target training set (``gtFine`` is then not needed).
            Defaults to True.
        img_suffix (str): Defaults to '_leftImg8bit.png'.
        seg_map_suffix (str): Defaults to '_gtFine_labelIds.png'.
        data_prefix (dict): Defaults to ``dict(img_path='leftImg8bit/train',
            seg_map_path='gtFine/train')``.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    DEFAULT_LABEL_MAPPING = 'cityscapes19'
    ID_SPACE = 'cityscapes'

    def __init__(self,
                 label_mapping: str = 'cityscapes19',
                 with_labels: bool = True,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelIds.png',
                 data_prefix: dict = dict(
                     img_path='leftImg8bit/train',
                     seg_map_path='gtFine/train'),
                 **kwargs) -> None:
        if label_mapping is None:
            raise ValueError(
                'CityscapesRawDataset: label_mapping must be a mapping name; '
                "for converted '*_gtFine_labelTrainIds.png' files set "
                "seg_map_suffix='_gtFine_labelTrainIds.png'")
        if with_labels and seg_map_suffix.endswith(_TRAIN_IDS_SUFFIX):
            if label_mapping != 'cityscapes19':
                raise ValueError(
                    f'CityscapesRawDataset: {seg_map_suffix!r} files hold '
                    f'19-class train ids, label_mapping={label_mapping!r} '
                    "needs the raw '_gtFine_labelIds.png' files")
            label_mapping = None  # already train ids
        self._init_mapped_dataset(
            label_mapping, with_labels, img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix, data_prefix=data_prefix, **kwargs)
