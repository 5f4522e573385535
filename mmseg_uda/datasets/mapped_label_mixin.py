import logging
import os
import os.path as osp
from typing import List, Optional, Tuple

import mmengine
import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmseg.datasets import BaseSegDataset
from .label_mappings import get_label_mapping, get_label_space


class MappedLabelMixin:
    """Shared behaviour of datasets whose labels are stored as raw ids.

    Mixed into the GTA5, SYNTHIA, Cityscapes and RobotCar datasets (before
    the mmseg base class). It provides:

    - A per-instance label space: the classes and palette in ``metainfo``
      follow the ``label_mapping`` argument (e.g. 19 or 16 Cityscapes
      classes) instead of a fixed class-level ``METAINFO``. The instance
      attribute ``METAINFO`` holds it, so tools reading ``dataset.METAINFO``
      see the right classes.
    - ``load_data_list`` with checks that fail early and name the path: a
      missing data root / image folder / label folder / list file, an empty
      split, and images without a label file when ``with_labels=True``.
      With ``with_labels=False`` (unlabelled target training sets) label
      files are neither needed nor looked for.
    - Data info keys for :class:`LoadMappedAnnotations`: ``label_mapping``
      and ``label_channel``.

    Subclasses set ``DEFAULT_LABEL_MAPPING`` (its label space is used when
    ``label_mapping`` is None) and ``ID_SPACE`` (the raw id space of their
    label files, which a mapping must read), and build themselves with
    :meth:`_init_mapped_dataset` (the label space first, then the mmseg base
    class).
    """

    DEFAULT_LABEL_MAPPING: str = ''
    ID_SPACE: str = ''

    def _init_label_mapping(self,
                            label_mapping: Optional[str],
                            with_labels: bool,
                            label_channel: Optional[str] = None,
                            reduce_zero_label: bool = False) -> None:
        """Validate the mapping and set the instance label space.

        Args:
            label_mapping (str, optional): Mapping name, None for labels that
                already hold train ids of the default label space.
            with_labels (bool): Whether samples carry a label file.
            label_channel (str, optional): Channel of multi-channel labels.
            reduce_zero_label (bool): mmseg's option; only allowed with
                ``label_mapping=None`` (a mapping defines the ignored ids).
        """
        name = type(self).__name__
        if reduce_zero_label and label_mapping is not None:
            raise ValueError(
                f'{name}: reduce_zero_label=True cannot be combined with '
                f'label mapping {label_mapping!r}, which already maps the '
                'ignored ids to 255')
        if label_mapping is not None:
            spec = get_label_mapping(label_mapping)
            if spec.id_space != self.ID_SPACE:
                raise ValueError(
                    f'{name}: label mapping {label_mapping!r} reads '
                    f'{spec.id_space!r} ids, but this dataset stores '
                    f'{self.ID_SPACE!r} ids')
            space = spec.label_space
        else:
            space = get_label_mapping(self.DEFAULT_LABEL_MAPPING).label_space
        self.label_mapping = label_mapping
        self.label_space = space
        self.with_labels = with_labels
        self.label_channel = label_channel
        # Instance attribute shadowing the class attribute: read by
        # ``_load_metainfo`` / ``get_label_map`` below.
        self.METAINFO = get_label_space(space)

    def _init_mapped_dataset(self,
                             label_mapping: Optional[str],
                             with_labels: bool,
                             label_channel: Optional[str] = None,
                             **kwargs) -> None:
        """:meth:`_init_label_mapping` (with ``kwargs``'
        ``reduce_zero_label``), then the ``__init__`` of the mmseg dataset
        class that follows this mixin, with ``kwargs`` (suffixes,
        ``data_prefix``, ``data_root``, ``pipeline``...)."""
        self._init_label_mapping(
            label_mapping,
            with_labels,
            label_channel=label_channel,
            reduce_zero_label=kwargs.get('reduce_zero_label', False))
        super().__init__(**kwargs)

    # ``BaseDataset._load_metainfo`` and ``BaseSegDataset.get_label_map`` are
    # classmethods that only read ``cls.METAINFO``; running their functions
    # on the instance makes them read the per-instance label space.
    def _load_metainfo(self, metainfo=None) -> dict:
        return BaseDataset._load_metainfo.__func__(self, metainfo)

    def get_label_map(self, new_classes=None):
        return BaseSegDataset.get_label_map.__func__(self, new_classes)

    def _list_names(self, img_dir: str) -> List[str]:
        """Sample names (image paths relative to ``img_dir`` without
        ``img_suffix``), from ``ann_file`` or by listing ``img_dir``."""
        cls = type(self).__name__
        if self.ann_file:
            if not fileio.exists(self.ann_file, self.backend_args):
                raise FileNotFoundError(
                    f'{cls}: list file (ann_file) {self.ann_file} does not '
                    'exist')
            names = []
            for line in mmengine.list_from_file(
                    self.ann_file, backend_args=self.backend_args):
                line = line.strip()
                if not line:
                    continue
                if line.endswith(self.img_suffix):
                    line = line[:-len(self.img_suffix)]
                names.append(line)
            if not names:
                raise ValueError(f'{cls}: list file (ann_file) '
                                 f'{self.ann_file} lists no samples')
            missing = [
                n for n in names if not fileio.exists(
                    osp.join(img_dir, n + self.img_suffix), self.backend_args)
            ]
            if missing:
                raise FileNotFoundError(
                    f'{cls}: {len(missing)} of {len(names)} images listed in '
                    f'{self.ann_file} do not exist in {img_dir}, e.g. '
                    f'{osp.join(img_dir, missing[0] + self.img_suffix)}')
            return names
        names, dangling = self._list_images(img_dir)
        if not names:
            raise ValueError(f'{cls}: no images ending with '
                             f'{self.img_suffix!r} found in {img_dir} (empty '
                             'split, or wrong data_prefix / img_suffix?)' +
                             (f'; {len(dangling)} broken symbolic links, '
                              f'e.g. {dangling[0]}' if dangling else ''))
        if dangling:
            print_log(
                f'{cls}: {len(dangling)} image(s) in {img_dir} are symbolic '
                'links to missing files and were skipped: ' +
                ', '.join(dangling[:5]) + (', ...' if len(dangling) > 5 else
                                           ''),
                logger='current',
                level=logging.WARNING)
        return names

    def _list_images(self, img_dir: str) -> Tuple[List[str], List[str]]:
        """The image names (relative, without ``img_suffix``) under
        ``img_dir`` and, for a local folder, the image paths that are
        symbolic links to missing files (directory listings skip them
        silently), both sorted; one walk of the tree.

        Returns:
            tuple: ``(names, dangling)``.
        """
        suffix_len = len(self.img_suffix)
        if not osp.isdir(img_dir):  # another storage backend
            return sorted(
                f[:-suffix_len] for f in fileio.list_dir_or_file(
                    dir_path=img_dir,
                    list_dir=False,
                    suffix=self.img_suffix,
                    recursive=True,
                    backend_args=self.backend_args)), []
        names, dangling = [], []
        for dirpath, _, filenames in os.walk(img_dir, followlinks=True):
            for name in filenames:
                if not name.endswith(self.img_suffix):
                    continue
                path = osp.join(dirpath, name)
                if not osp.isfile(path):  # a link to a missing file
                    if osp.islink(path):
                        dangling.append(path)
                    continue
                names.append(osp.relpath(path, img_dir)[:-suffix_len])
        return sorted(names), sorted(dangling)

    def load_data_list(self) -> List[dict]:
        """Collect the samples, checking folders and label files.

        Returns:
            list[dict]: Data infos with ``img_path``, ``seg_map_path`` (only
            when ``with_labels``), ``label_mapping``, ``label_channel``,
            ``label_map``, ``reduce_zero_label`` and ``seg_fields``.
        """
        cls = type(self).__name__
        if self.data_root and not fileio.isdir(self.data_root,
                                               self.backend_args):
            raise FileNotFoundError(
                f'{cls}: data_root {self.data_root} does not exist or is not '
                'a folder')
        img_dir = self.data_prefix.get('img_path', '')
        if not img_dir or not fileio.isdir(img_dir, self.backend_args):
            raise FileNotFoundError(
                f'{cls}: image folder {img_dir!r} does not exist (set '
                "data_root / data_prefix['img_path'])")
        ann_dir = None
        if self.with_labels:
            ann_dir = self.data_prefix.get('seg_map_path', '')
            if not ann_dir or not fileio.isdir(ann_dir, self.backend_args):
                raise FileNotFoundError(
                    f'{cls}: label folder {ann_dir!r} does not exist (set '
                    "data_prefix['seg_map_path'], or with_labels=False for "
                    'an unlabelled target training set)')

        data_list = []
        missing = []
        for name in self._list_names(img_dir):
            info = dict(img_path=osp.join(img_dir, name + self.img_suffix))
            if ann_dir is not None:
                seg_map_path = osp.join(ann_dir, name + self.seg_map_suffix)
                if not fileio.exists(seg_map_path, self.backend_args):
                    missing.append((info['img_path'], seg_map_path))
                info['seg_map_path'] = seg_map_path
            info['label_mapping'] = self.label_mapping
            info['label_channel'] = self.label_channel
            info['label_map'] = self.label_map
            info['reduce_zero_label'] = self.reduce_zero_label
            info['seg_fields'] = []
            data_list.append(info)
        if missing:
            img, lbl = missing[0]
            raise FileNotFoundError(
                f'{cls}: {len(missing)} of {len(data_list)} images have no '
                f'label file, e.g. image {img} expects {lbl} (wrong '
                'seg_map_suffix? use with_labels=False for an unlabelled '
                'set)')
        return data_list
