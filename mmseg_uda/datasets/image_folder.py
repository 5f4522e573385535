"""One's own images: a folder tree, optionally with label files."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .label_mappings import IGNORE_INDEX, get_label_space
from .mapped_label_mixin import MappedLabelMixin


def id_lut_map(label_ids: Dict[int, int], name: str) -> Dict[int, int]:
    """A complete mmseg ``label_map`` (0..255 -> train id) from a partial
    raw-id map: listed ids map as given, every other id to 255."""
    out = {i: IGNORE_INDEX for i in range(256)}
    for raw, tid in label_ids.items():
        raw, tid = int(raw), int(tid)
        if not (0 <= raw <= 255 and (0 <= tid < 255 or tid == IGNORE_INDEX)):
            raise ValueError(f'{name}: label_ids entry {raw} -> {tid} is out '
                             'of range (8-bit raw ids, train ids < 255)')
        out[raw] = tid
    return out


@DATASETS.register_module()
class ImageFolderDataset(MappedLabelMixin, BaseSegDataset):
    """Every image under a folder (recursively), e.g. one's own camera.

    Unlabelled (default), it is a UDA target: ``UDADataset(target=...)``,
    ``compute_class_stats.py``, ``gen_pseudo_labels.py`` (pseudo labels
    mirror the image paths relative to the image folder) and
    ``tools/infer.py`` (a folder input) all read it. With
    ``with_labels=True`` it is a labelled source (or a labelled target
    validation set): the label of ``<img_dir>/<rel>.<ext>`` is
    ``<seg_map_dir>/<rel><seg_map_suffix>``, an 8-bit PNG whose raw ids are
    mapped to train ids by ``label_ids`` (ids not listed become 255,
    ignored; the map is applied by :class:`LoadMappedAnnotations` as
    mmseg's ``label_map``), or that already holds train ids
    (``label_ids=None``).

    The classes (for the class-count checks, evaluation and palettes) are a
    named label space (``'cityscapes19'``, ``'cityscapes16'``,
    ``'robotcar9'``) or ``metainfo=dict(classes=..., palette=...)``.

    Args:
        data_prefix (dict): ``img_path`` (required) and, with labels,
            ``seg_map_path`` (joined with ``data_root``).
        extensions (Sequence[str]): Image extensions, case-insensitive.
            Defaults to ('.png', '.jpg', '.jpeg').
        recursive (bool): Include sub-folders. Defaults to True.
        with_labels (bool): Load label files. Defaults to False.
        seg_map_suffix (str): Label file suffix. Defaults to '.png'.
        label_ids (dict[int, int], optional): Raw label id -> train id.
        label_space (str, optional): Named label space of the classes;
            None to take ``metainfo``. Defaults to 'cityscapes19'.
        **kwargs: Other arguments of :class:`BaseSegDataset` (``data_root``,
            ``pipeline``, ``metainfo``, ``indices`` ...).
    """

    def __init__(self,
                 data_prefix: dict = dict(img_path=''),
                 extensions: Sequence[str] = ('.png', '.jpg', '.jpeg'),
                 recursive: bool = True,
                 with_labels: bool = False,
                 seg_map_suffix: str = '.png',
                 label_ids: Optional[Dict[int, int]] = None,
                 label_space: Optional[str] = 'cityscapes19',
                 **kwargs) -> None:
        name = type(self).__name__
        if kwargs.get('reduce_zero_label'):
            raise ValueError(f'{name}: use label_ids (e.g. {{0: 255, 1: 0, '
                             '...}) instead of reduce_zero_label')
        self.extensions = tuple(e.lower() for e in extensions)
        if not self.extensions or not all(
                e.startswith('.') for e in self.extensions):
            raise ValueError(f'{name}: extensions must be like ".png", got '
                             f'{list(extensions)}')
        self.recursive = recursive
        self.label_mapping = None
        self.label_channel = None
        self.with_labels = with_labels
        self.id_map = id_lut_map(label_ids, name) if label_ids else None
        if label_space is not None:
            self.METAINFO = get_label_space(label_space)
        elif not (kwargs.get('metainfo') or {}).get('classes'):
            raise ValueError(f'{name}: give label_space or '
                             'metainfo=dict(classes=..., palette=...)')
        else:
            self.METAINFO = dict(kwargs['metainfo'])
        super().__init__(
            img_suffix='', seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix, **kwargs)

    def _list_images(self, img_dir: str) -> List[str]:
        if self.recursive:
            paths = [osp.join(d, f) for d, _, files in os.walk(img_dir)
                     for f in files]
        else:
            paths = [osp.join(img_dir, f) for f in os.listdir(img_dir)]
        paths = sorted(p for p in paths if p.lower().endswith(self.extensions)
                       and osp.isfile(p))
        name = type(self).__name__
        if not paths:
            raise ValueError(
                f'{name}: no images with extensions {list(self.extensions)} '
                f'in {img_dir}' + ('' if self.recursive else
                                   ' (recursive=False: sub-folders skipped)'))
        stems = {}
        for p in paths:
            stem = osp.splitext(p)[0]
            if stem in stems:
                raise ValueError(
                    f'{name}: {stems[stem]} and {p} differ only in their '
                    'extension; their labels and pseudo labels would share '
                    'one file name')
            stems[stem] = p
        return paths

    def load_data_list(self) -> List[dict]:
        """Data infos of every image (and its label file)."""
        name = type(self).__name__
        img_dir = self.data_prefix.get('img_path', '')
        if not img_dir or not fileio.isdir(img_dir):
            raise FileNotFoundError(
                f'{name}: image folder {img_dir!r} does not exist (set '
                "data_root / data_prefix['img_path'])")
        ann_dir = self.data_prefix.get('seg_map_path')
        if self.with_labels and (not ann_dir or not fileio.isdir(ann_dir)):
            raise FileNotFoundError(
                f'{name}: label folder {ann_dir!r} does not exist (set '
                "data_prefix['seg_map_path'], or with_labels=False)")
        label_map = self.id_map if self.id_map is not None else \
            self.label_map
        data_list, missing = [], []
        for path in self._list_images(img_dir):
            info = dict(img_path=path, label_mapping=None,
                        label_channel=None, label_map=label_map,
                        reduce_zero_label=False, seg_fields=[])
            if self.with_labels:
                rel = osp.splitext(osp.relpath(path, img_dir))[0]
                info['seg_map_path'] = osp.join(ann_dir,
                                                rel + self.seg_map_suffix)
                if not osp.isfile(info['seg_map_path']):
                    missing.append(info['seg_map_path'])
            data_list.append(info)
        if missing:
            raise FileNotFoundError(
                f'{name}: {len(missing)} of {len(data_list)} images have no '
                f'label file, e.g. {missing[0]}')
        return data_list
