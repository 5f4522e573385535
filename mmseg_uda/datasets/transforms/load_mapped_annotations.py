import warnings
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS
from ..formats import read_label
from ..label_mappings import (IGNORE_INDEX, apply_label_mapping,
                              get_label_mapping)

#: Raw id spaces whose released label files have a fixed sample type. A
#: SYNTHIA label (16-bit, class id in R) saved as 8-bit - e.g. rescaled by
#: ``>> 8`` - reads as class 0 (void) everywhere: training on it silently
#: learns nothing.
RAW_LABEL_DTYPES = {'synthia': np.uint16}


class LabelWarning(UserWarning):
    """Warning about a label file that was repaired while loading.

    Raised for labels whose size differs from their image (they are resized)
    and for labels holding ids outside the valid id range (they are set to
    the ignore index). Filter it with
    ``warnings.filterwarnings('ignore', category=LabelWarning)``.
    """


@TRANSFORMS.register_module()
class LoadMappedAnnotations(BaseTransform):
    """Load a raw label map and convert it to train ids.

    A replacement of mmseg's ``LoadAnnotations`` for datasets that keep their
    labels in the released raw-id format (GTA5, SYNTHIA, Cityscapes
    ``labelIds``, RobotCar ``anno``):

    1. Reads the file with the decoder the format needs: palette PNGs (GTA5)
       give their pixel indices (not colours), 16-bit PNGs keep their depth,
       and a multi-channel label (SYNTHIA) gives the channel named by
       ``label_channel``.
    2. Checks the sample type of raw-id formats that fix it
       (``RAW_LABEL_DTYPES``: SYNTHIA labels must be 16-bit) and raises a
       ``ValueError`` naming the file otherwise; converted labels belong in
       ``label_mapping=None`` (train ids). Maps raw ids with the named
       mapping in ``label_mapping`` (see
       :mod:`mmseg_uda.datasets.label_mappings`); None means the file
       already holds train ids. Ids outside the mapping's valid range become
       255 and are reported in a :class:`LabelWarning` naming the file and
       the number of pixels (never an error).
    3. Applies mmseg's class-subset ``label_map`` and ``reduce_zero_label``
       when the dataset sets them. A label that is then ignore (255)
       everywhere is reported in a :class:`LabelWarning` naming the file
       (a batch of only such labels is caught by ``UDADatasetCheckHook``).
    4. If an image was loaded before (``ori_shape`` present: the size of the
       image file as read) and the label size differs, resizes the label to
       that size with nearest-neighbour interpolation and warns
       (:class:`LabelWarning`) once per file. Comparing with the original
       size keeps test pipelines that load labels after ``Resize`` (mmseg's
       convention: evaluation at full resolution) correct.

    Required Keys:

    - seg_map_path (str): Label file.
    - label_mapping (str | None): Name of the id mapping; None for labels
      already in train ids.
    - label_channel (str | None, optional): 'R', 'G' or 'B' for a
      multi-channel label.
    - label_map (dict | None, optional): mmseg class-subset map.
    - reduce_zero_label (bool, optional)
    - seg_fields (list)
    - ori_shape (tuple, optional)

    Added Keys:

    - gt_seg_map (np.uint8): (H, W) train ids, 255 = ignore.
    - seg_fields: ``'gt_seg_map'`` appended.

    Args:
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args.copy() if backend_args else None
        self._warned = set()

    def _warn_once(self, key: tuple, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg, LabelWarning)

    def transform(self, results: dict) -> dict:
        """Load, map and check the label of ``results['seg_map_path']``.

        Args:
            results (dict): Result dict from the dataset.

        Returns:
            dict: ``results`` with ``gt_seg_map`` added.
        """
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError(
                f'{self.__class__.__name__}: sample {results.get("img_path")}'
                ' has no `seg_map_path`. Was its dataset built with '
                '`with_labels=False`? Then remove the annotation loader from '
                'its pipeline.')
        if 'label_mapping' not in results:
            raise KeyError(
                f'{self.__class__.__name__}: sample {path} has no '
                '`label_mapping` key; use it with the mmseg_uda datasets, or '
                'add `label_mapping` (None for train-id labels) to the data '
                'info.')
        mapping = results['label_mapping']
        raw = read_label(path, results.get('label_channel'),
                         self.backend_args)

        if mapping is None:
            if raw.dtype != np.uint8 and raw.max(initial=0) > 255:
                raise ValueError(
                    f'Label file {path} holds values up to {raw.max()} but '
                    '`label_mapping` is None (train ids expected, <= 255); '
                    'set the label mapping of its raw id format.')
            label = raw.astype(np.uint8)
        else:
            self._check_raw_dtype(raw, mapping, path)
            label, num_unknown, unknown_ids = apply_label_mapping(
                raw, mapping)
            if num_unknown:
                shown = ', '.join(str(int(i)) for i in unknown_ids[:8])
                self._warn_once(
                    ('unknown', path),
                    f'Label file {path}: {num_unknown} pixel(s) hold ids '
                    f'outside the valid range of label mapping {mapping!r} '
                    f'(ids: {shown}{", ..." if len(unknown_ids) > 8 else ""});'
                    f' they were set to the ignore index {IGNORE_INDEX}.')

        reduce_zero_label = results.get('reduce_zero_label', False)
        if reduce_zero_label:
            if mapping is not None:
                raise ValueError(
                    f'Sample {path}: `reduce_zero_label=True` cannot be '
                    f'combined with label mapping {mapping!r}, which already '
                    'defines the ignored ids.')
            label = label.copy()
            label[label == 0] = 255
            label = label - 1
            label[label == 254] = 255
        label_map = results.get('label_map')
        if label_map:
            lut = np.arange(256, dtype=np.uint8)
            for old_id, new_id in label_map.items():
                lut[old_id] = new_id
            label = lut[label]

        if label.size and (label == IGNORE_INDEX).all():
            self._warn_once(
                ('all_ignore', path),
                f'Label file {path} maps entirely to the ignore index '
                f'{IGNORE_INDEX} (label mapping {mapping!r}): it trains '
                'nothing. Wrong label format, bit depth or label mapping?')

        img_shape = results.get('ori_shape')
        if img_shape is not None and label.shape != tuple(img_shape[:2]):
            self._warn_once(
                ('resize', path),
                f'Label file {path} has size {label.shape} (h, w) but its '
                f'image {results.get("img_path")} has size '
                f'{tuple(img_shape[:2])}; the label was resized to the image '
                'size with nearest-neighbour interpolation.')
            label = mmcv.imresize(
                label, (img_shape[1], img_shape[0]),
                interpolation='nearest')

        results['gt_seg_map'] = label
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    @staticmethod
    def _check_raw_dtype(raw: np.ndarray, mapping: str, path: str) -> None:
        """Raise if a raw-id label has the wrong sample type for its
        format (``RAW_LABEL_DTYPES``)."""
        space = get_label_mapping(mapping).id_space
        dtype = RAW_LABEL_DTYPES.get(space)
        if dtype is not None and raw.dtype != dtype:
            raise ValueError(
                f'Label file {path} has {raw.dtype.itemsize * 8}-bit samples,'
                f' but {space} labels (label mapping {mapping!r}) are '
                f'{np.dtype(dtype).itemsize * 8}-bit PNGs as released; a '
                'converted or rescaled copy reads as wrong ids (e.g. void '
                'everywhere). Use the original files, or labels converted to '
                'train ids with label_mapping=None.')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'
