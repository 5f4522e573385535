# Copyright (c) mmseg_uda contributors. All rights reserved.
"""A target dataset labelled by pseudo labels (MRNet stage II)."""
import copy
import json
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset

from mmseg.registry import DATASETS

#: Suffix of a pseudo-label file (an 8-bit single-channel PNG of train ids).
PSEUDO_LABEL_SUFFIX = '.png'
#: Name of the description file written next to the pseudo labels.
PSEUDO_LABEL_META = 'meta.json'
_GENERATE_HINT = ('generate them with `python tools/gen_pseudo_labels.py '
                  'STAGE1_CONFIG STAGE1_CHECKPOINT --out {dir}`')


def image_dir_and_suffix(dataset) -> Tuple[str, Optional[str]]:
    """The image folder and image suffix of an mmseg dataset.

    Args:
        dataset: A built dataset with ``data_prefix['img_path']`` (joined with
            ``data_root`` by mmengine) and, for mmseg datasets, ``img_suffix``.

    Returns:
        tuple[str, str | None]: ``(img_dir, img_suffix)``.
    """
    prefix = getattr(dataset, 'data_prefix', None) or {}
    img_dir = prefix.get('img_path')
    if not img_dir:
        raise ValueError(
            f'{type(dataset).__name__} has no data_prefix["img_path"]: '
            'pseudo-label paths mirror the image paths relative to the image '
            'folder, so the target dataset must define one')
    return img_dir, getattr(dataset, 'img_suffix', None)


def pseudo_label_path(img_path: str,
                      img_dir: str,
                      pseudo_label_dir: str,
                      img_suffix: Optional[str] = None) -> str:
    """Path of the pseudo label of one image.

    The pseudo label mirrors the image path relative to the dataset's image
    folder, with the image suffix replaced by ``.png``::

        img_dir/aachen/aachen_000000_000019_leftImg8bit.png
        -> pseudo_label_dir/aachen/aachen_000000_000019.png

    (``img_suffix='_leftImg8bit.png'``; without a matching ``img_suffix``
    the file extension is replaced, e.g. GTA5/RobotCar ``00001.png`` ->
    ``00001.png``.) Used both by ``tools/gen_pseudo_labels.py`` (writing)
    and :class:`PseudoLabelDataset` (reading).

    Args:
        img_path (str): Path of the image.
        img_dir (str): Image folder of the dataset.
        pseudo_label_dir (str): Root folder of the pseudo labels.
        img_suffix (str, optional): The dataset's image suffix.

    Returns:
        str: The pseudo-label path.
    """
    rel = osp.relpath(osp.abspath(img_path), osp.abspath(img_dir))
    if rel == '.' or rel.split(osp.sep)[0] == '..':
        raise ValueError(f'image {img_path} is not inside the image folder '
                         f'{img_dir}; cannot name its pseudo label')
    if img_suffix and rel.endswith(img_suffix) and len(rel) > len(img_suffix):
        stem = rel[:-len(img_suffix)]
    else:
        stem = osp.splitext(rel)[0]
    return osp.join(pseudo_label_dir, stem + PSEUDO_LABEL_SUFFIX)


@DATASETS.register_module()
class PseudoLabelDataset(BaseDataset):
    """A target dataset whose labels are pseudo labels written to a folder.

    MRNet stage II (Zheng & Yang, IJCAI 2020, Sec. 3.3) fine-tunes the
    stage-I model on the target domain only, with the pseudo labels

    .. math::
        \\hat{y}_t = \\arg\\max_c \\big(F_p(x_t) + 0.5 F_a(x_t)\\big)

    predicted once for every target training image by
    ``tools/gen_pseudo_labels.py``. This dataset wraps the (unlabelled)
    target training set and gives every sample
    ``seg_map_path = <pseudo_label_dir>/<image path relative to the image
    folder, image suffix replaced by .png>`` (see :func:`pseudo_label_path`)
    and ``label_mapping=None`` (the PNGs already hold train ids, 255 =
    ignore), so :class:`LoadMappedAnnotations` (or mmseg's
    ``LoadAnnotations``) reads them as they are.

    Samples, order and ``metainfo`` (classes, palette) are those of the
    wrapped dataset, which is built without a pipeline; this dataset's
    ``pipeline`` processes the samples and must load the labels. Every
    pseudo label must exist when the dataset is initialised; otherwise a
    ``FileNotFoundError`` gives the number of missing files and the first
    few. If the folder has a ``meta.json`` (written by the generator) its
    class names must equal the wrapped dataset's.

    Example::

        dict(type='PseudoLabelDataset',
             dataset=dict(type='CityscapesRawDataset', data_root=...,
                          with_labels=False,
                          data_prefix=dict(img_path='leftImg8bit/train')),
             pseudo_label_dir='work_dirs/pseudo/mrnet_gta2cs',
             pipeline=[dict(type='LoadImageFromFile'),
                       dict(type='LoadMappedAnnotations'), ...,
                       dict(type='PackSegInputs')])

    Args:
        dataset (dict | BaseDataset): The target training set (config or
            built). Its own ``pipeline`` is ignored.
        pseudo_label_dir (str): Folder of the pseudo labels.
        pipeline (list[dict]): Processing pipeline (with an annotation
            loader).
        check_meta (bool): Compare the class names in
            ``pseudo_label_dir/meta.json`` (when present) with the wrapped
            dataset's. Defaults to True.
        serialize_data (bool): See :class:`mmengine.dataset.BaseDataset`.
        lazy_init (bool): See :class:`mmengine.dataset.BaseDataset`.
        max_refetch (int): See :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 pseudo_label_dir: str,
                 pipeline: Sequence[Union[dict, Callable]],
                 check_meta: bool = True,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if not pseudo_label_dir:
            raise ValueError('PseudoLabelDataset: pseudo_label_dir is empty')
        self.dataset = self._build_wrapped(dataset)
        self.pseudo_label_dir = str(pseudo_label_dir)
        self.check_meta = check_meta
        super().__init__(
            ann_file='',
            metainfo=self.dataset.metainfo,
            data_root='',
            data_prefix=dict(),
            pipeline=pipeline,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    @staticmethod
    def _build_wrapped(dataset: Union[dict, BaseDataset]) -> BaseDataset:
        if isinstance(dataset, dict):
            if dataset.get('type') in ('UDADataset', 'PseudoLabelDataset'):
                raise TypeError(
                    'PseudoLabelDataset wraps the plain target training set '
                    f"(e.g. CityscapesRawDataset), got {dataset['type']}; "
                    "pass its 'target' config")
            cfg = copy.deepcopy(dict(dataset))
            cfg['pipeline'] = []
            cfg['lazy_init'] = True
            return DATASETS.build(cfg)
        if isinstance(dataset, BaseDataset):
            return dataset
        raise TypeError('PseudoLabelDataset: `dataset` must be a dataset '
                        f'config or a BaseDataset, got {type(dataset)}')

    def _check_meta(self) -> None:
        path = osp.join(self.pseudo_label_dir, PSEUDO_LABEL_META)
        if not (self.check_meta and osp.isfile(path)):
            return
        with open(path) as f:
            meta = json.load(f)
        written = meta.get('classes')
        expected = self.dataset.metainfo.get('classes')
        if written is not None and expected is not None and \
                tuple(written) != tuple(expected):
            raise ValueError(
                f'PseudoLabelDataset: {path} says the pseudo labels use '
                f'{len(written)} classes {tuple(written)}, but the wrapped '
                f'{type(self.dataset).__name__} has {len(expected)} classes '
                f'{tuple(expected)}; regenerate the pseudo labels with the '
                'matching model / label mapping')

    def load_data_list(self) -> List[dict]:
        """The wrapped dataset's samples, labelled by the pseudo labels.

        Returns:
            list[dict]: Data infos with ``seg_map_path`` (the pseudo PNG),
            ``label_mapping=None``, ``label_map=None``,
            ``reduce_zero_label=False`` and empty ``seg_fields``.
        """
        if not osp.isdir(self.pseudo_label_dir):
            raise FileNotFoundError(
                f'PseudoLabelDataset: pseudo-label folder '
                f'{self.pseudo_label_dir} does not exist; ' +
                _GENERATE_HINT.format(dir=self.pseudo_label_dir))
        self._check_meta()
        self.dataset.full_init()
        img_dir, img_suffix = image_dir_and_suffix(self.dataset)
        data_list, missing = [], []
        for idx in range(len(self.dataset)):
            info = self.dataset.get_data_info(idx)
            info.pop('sample_idx', None)
            path = pseudo_label_path(info['img_path'], img_dir,
                                     self.pseudo_label_dir, img_suffix)
            if not osp.isfile(path):
                missing.append(path)
            info.update(
                seg_map_path=path,
                label_mapping=None,
                label_channel=None,
                label_map=None,
                reduce_zero_label=False,
                seg_fields=[])
            data_list.append(info)
        if missing:
            shown = ', '.join(missing[:3])
            raise FileNotFoundError(
                f'PseudoLabelDataset: {len(missing)} of {len(data_list)} '
                f'pseudo labels are missing in {self.pseudo_label_dir}, e.g. '
                f'{shown}{", ..." if len(missing) > 3 else ""}; ' +
                _GENERATE_HINT.format(dir=self.pseudo_label_dir) +
                ' (it resumes: existing files are kept)')
        return data_list

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(dataset='
                f'{type(self.dataset).__name__}, pseudo_label_dir='
                f'{self.pseudo_label_dir!r}, num_samples='
                f'{len(self) if self._fully_initialized else "?"})')
