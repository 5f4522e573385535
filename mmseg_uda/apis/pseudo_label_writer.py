# Copyright (c) mmseg_uda contributors. All rights reserved.
"""The files of a pseudo-label folder: PNGs, resumption and ``meta.json``.

:class:`PseudoLabelWriter` owns one output folder of
``tools/gen_pseudo_labels.py``:

- naming: ``DIR/<image path relative to the image folder, image suffix
  replaced by .png>`` (:func:`~mmseg_uda.datasets.pseudo_label_path`, also
  used by :class:`~mmseg_uda.datasets.PseudoLabelDataset` to read them);
  with the CBST class-balanced selection, pass 1 writes ``DIR/raw/<rel>``
  (argmax) and ``DIR/conf/<rel>`` (confidence level ``round(255 conf)``)
  and pass 2 (:func:`write_class_balanced_labels`) the filtered
  ``DIR/<rel>``;
- resumption: an image is done when its pass-1 PNGs exist *and decode*
  (a truncated or unreadable file is regenerated); PNGs are written
  atomically (temporary file + rename);
- the record ``DIR/meta.json``: the settings that determine the labels
  (:data:`SETTINGS`: weights fingerprint, checkpoint, config, fusion, views,
  mode, classes, ...). A rerun into a folder whose record names other
  settings, or that holds labels without a record, is refused unless
  ``overwrite`` (then every label of the set is deleted and regenerated), so
  the record always describes the labels on disk. The record is written
  before the first label (so an interrupted run is still described) and
  completed (count, CBST selection) at the end.
"""
import hashlib
import io
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import barrier
from mmengine.logging import print_log
from PIL import Image

from ..datasets.pseudo_label_dataset import (PSEUDO_LABEL_META,
                                             image_dir_and_suffix,
                                             pseudo_label_path)
from .pseudo_label_selection import (apply_thresholds, check_portion,
                                     class_balanced_thresholds,
                                     confidence_histograms,
                                     quantize_confidence, selection_summary)

#: Sub-folders of the unfiltered labels / confidences (class-balanced mode).
RAW_DIR = 'raw'
CONF_DIR = 'conf'
#: ``meta.json`` entries that must be equal to resume into a folder. The
#: CBST portion and cap are not among them: pass 2 always rewrites the
#: filtered labels from the pass-1 files.
SETTINGS = ('weights_sha256', 'checkpoint', 'config', 'cfg_options',
            'dataset_key', 'fusion', 'fuse_weight', 'tta', 'scales', 'flip',
            'class_balanced', 'classes')
_OVERWRITE_HINT = ('use another output folder, or pass --overwrite '
                   '(overwrite=True) to regenerate every label')


def write_label_png(label: np.ndarray, path: str) -> None:
    """Write train ids as an 8-bit single-channel PNG, atomically.

    The PNG is encoded in memory, written to a hidden temporary file in the
    target folder and renamed onto ``path``, so an interrupted run never
    leaves a partial ``path`` (a stray ``.NAME.PID.tmp`` at most).

    Args:
        label (np.ndarray): (H, W) integer array with values in [0, 255].
        path (str): Output path; parent folders are created.
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'label must be (H, W), got shape {label.shape}')
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f'label values must be in [0, 255] for {path}')
    buf = io.BytesIO()
    Image.fromarray(label.astype(np.uint8), mode='L').save(buf, format='PNG')
    folder = osp.dirname(path) or '.'
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(buf.getvalue())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def read_label_png(path: str) -> Optional[np.ndarray]:
    """The (H, W) uint8 array of an 8-bit single-channel PNG, or None when
    the file is missing, truncated, not a PNG or not single-channel.

    Args:
        path (str): The file.
    """
    try:
        with Image.open(path) as img:
            img.load()  # decodes every row: raises on truncation
            if img.format != 'PNG' or img.mode != 'L':
                return None
            return np.array(img)
    except (OSError, ValueError, SyntaxError):
        return None


def _read_checked(path: str) -> np.ndarray:
    """:func:`read_label_png`, or a ``ValueError`` naming the file.

    Args:
        path (str): The file.
    """
    label = read_label_png(path)
    if label is None:
        raise ValueError(f'{path} is not a readable 8-bit PNG; rerun the '
                         'generation to regenerate it')
    return label


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of a module's state dict (names, dtypes, shapes, bytes).

    Args:
        module (nn.Module): The network that predicts the labels.
    """
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f'{name}:{tensor.dtype}:{tensor.numel()};'.encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _json_normal(obj):
    """``obj`` as it reads back from JSON (tuples -> lists, ...).

    Args:
        obj: A JSON-serialisable object.
    """
    return json.loads(json.dumps(obj))


def setting_differences(previous: dict, settings: dict) -> List[str]:
    """``key: old -> new`` for every :data:`SETTINGS` entry that differs.

    A record written before the weights were fingerprinted (no
    ``weights_sha256`` / ``fuse_weight`` / ``class_balanced`` key) is
    compared on the keys it has (``class_balanced`` from its
    ``class_portion``).

    Args:
        previous (dict): The folder's ``meta.json``.
        settings (dict): This run's settings.
    """
    previous = dict(previous)
    previous.setdefault('class_balanced',
                        previous.get('class_portion') is not None)
    settings = _json_normal(settings)
    return [
        f'{key}: {previous[key]!r} -> {settings.get(key)!r}'
        for key in SETTINGS
        if key in previous and previous[key] != settings.get(key)
    ]


def _atomic_json(obj: dict, path: str) -> None:
    """Write ``obj`` as JSON to ``path`` through a renamed temporary file.

    Args:
        obj (dict): The content.
        path (str): The file.
    """
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


class PseudoLabelWriter:
    """Writes the pseudo labels of a dataset into one folder.

    Args:
        out_dir (str): Output folder.
        dataset (BaseSegDataset): The target set (image paths, image folder
            and suffix, classes).
        class_balanced (bool): CBST mode: pass 1 writes ``raw/`` and
            ``conf/`` PNGs, :meth:`write_selected` the filtered labels.
    """

    def __init__(self, out_dir: str, dataset, class_balanced: bool = False):
        self.out_dir = out_dir
        self.class_balanced = class_balanced
        self.img_dir, self.img_suffix = image_dir_and_suffix(dataset)
        self.img_paths = [
            dataset.get_data_info(i)['img_path'] for i in range(len(dataset))
        ]
        self.index = {p: i for i, p in enumerate(self.img_paths)}
        self.labels = self._paths(out_dir)
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(
                'several images map to the same pseudo-label file; check '
                f'img_suffix of {type(dataset).__name__}')
        self.raw = self._paths(osp.join(out_dir, RAW_DIR))
        self.conf = self._paths(osp.join(out_dir, CONF_DIR))
        if class_balanced:
            self._check_reserved()

    def _paths(self, folder: str) -> List[str]:
        """The label path of every image under ``folder``.

        Args:
            folder (str): Root of the label files.
        """
        return [
            pseudo_label_path(p, self.img_dir, folder, self.img_suffix)
            for p in self.img_paths
        ]

    def _check_reserved(self) -> None:
        """No final label may lie in the ``raw/`` or ``conf/`` folder."""
        reserved = tuple(
            osp.join(osp.abspath(self.out_dir), sub) + osp.sep
            for sub in (RAW_DIR, CONF_DIR))
        clash = [p for p in self.labels if osp.abspath(p).startswith(reserved)]
        if clash:
            raise ValueError(
                f'pseudo label {clash[0]} would lie in the {RAW_DIR}/ or '
                f'{CONF_DIR}/ folder of the class-balanced mode')

    @property
    def meta_path(self) -> str:
        """Path of ``meta.json``."""
        return osp.join(self.out_dir, PSEUDO_LABEL_META)

    def pass1_files(self, idx: int) -> List[str]:
        """The files written for image ``idx`` by :meth:`write`."""
        if self.class_balanced:
            return [self.raw[idx], self.conf[idx]]
        return [self.labels[idx]]

    def is_done(self, idx: int) -> bool:
        """Whether image ``idx``'s pass-1 PNGs exist and decode (a raw /
        confidence pair also of the same size)."""
        arrays = [read_label_png(p) for p in self.pass1_files(idx)]
        if any(a is None for a in arrays):
            return False
        return len({a.shape for a in arrays}) == 1

    def write(self, img_path: str, probs: torch.Tensor) -> None:
        """Write the pass-1 PNGs of one image.

        Args:
            img_path (str): The image (as in the dataset).
            probs (Tensor): Class probabilities (C, H, W) at its size.
        """
        idx = self.index[img_path]
        conf, label = probs.max(0)
        label = label.cpu().numpy()
        if not self.class_balanced:
            write_label_png(label, self.labels[idx])
            return
        write_label_png(label, self.raw[idx])
        write_label_png(quantize_confidence(conf.cpu().numpy()),
                        self.conf[idx])

    def count(self) -> int:
        """Number of final label files present."""
        return sum(osp.exists(p) for p in self.labels)

    # ------------------------------------------------------------------
    # the record
    # ------------------------------------------------------------------
    def read_meta(self) -> Optional[dict]:
        """The folder's ``meta.json``; None if absent, ``{}`` if unreadable
        (a record that describes nothing)."""
        if not osp.isfile(self.meta_path):
            return None
        try:
            with open(self.meta_path) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def _own_files(self) -> List[str]:
        """The existing label, raw and confidence files of the set."""
        return [
            p for paths in (self.labels, self.raw, self.conf) for p in paths
            if osp.exists(p)
        ]

    def check(self, settings: dict, overwrite: bool = False) -> None:
        """Refuse to resume a folder made with other settings.

        Args:
            settings (dict): This run's :data:`SETTINGS` values.
            overwrite (bool): Accept anything (the labels are regenerated).

        Raises:
            ValueError: If ``meta.json`` names other settings, is unreadable
                or is missing while labels of the set exist.
        """
        if overwrite:
            return
        previous = self.read_meta()
        if previous is None:
            files = self._own_files()
            if files:
                raise ValueError(
                    f'{self.out_dir} holds {len(files)} pseudo-label files '
                    f'(e.g. {files[0]}) but no {PSEUDO_LABEL_META} records '
                    f'how they were made; {_OVERWRITE_HINT}')
            return
        if not previous:
            raise ValueError(f'{self.meta_path} is unreadable or not a JSON '
                             f'object; {_OVERWRITE_HINT}')
        diffs = setting_differences(previous, settings)
        if diffs:
            raise ValueError(
                f'{self.out_dir} holds pseudo labels made with other '
                f'settings ({self.meta_path}: ' + '; '.join(diffs) +
                f'); {_OVERWRITE_HINT}')
        missing = [k for k in SETTINGS  # class_balanced: from the portion
                   if k not in previous and k != 'class_balanced']
        if missing:
            print_log(
                f'{self.meta_path} does not record {missing} (written by an '
                'older version); resuming on the settings it records',
                logger='current', level=30)

    def start(self, info: dict, overwrite: bool = False) -> None:
        """Rank 0: delete the set's labels under ``overwrite``, then write
        the record of this run (before any label).

        Args:
            info (dict): ``meta.json`` content (settings and description).
            overwrite (bool): Delete every label file of the set and the
                old record first.
        """
        if overwrite:
            for path in self._own_files():
                os.remove(path)
        os.makedirs(self.out_dir, exist_ok=True)
        _atomic_json(dict(info, count=self.count()), self.meta_path)

    def prepare(self,
                settings: dict,
                info: dict,
                rank: int = 0,
                overwrite: bool = False) -> None:
        """:meth:`check` on every rank, then :meth:`start` on rank 0
        (barriers between, no-ops without a process group).

        Args:
            settings (dict): This run's :data:`SETTINGS` values.
            info (dict): The record (settings and description).
            rank (int): This process's rank.
            overwrite (bool): Regenerate every label.
        """
        self.check(settings, overwrite)
        barrier()  # no rank reads the old record after rank 0 replaced it
        if rank == 0:
            self.start(info, overwrite)
        barrier()

    def finish(self, info: dict) -> int:
        """Rank 0: write the complete record; returns the label count.

        Args:
            info (dict): ``meta.json`` content (settings, description and
                CBST selection).
        """
        count = self.count()
        _atomic_json(dict(info, count=count), self.meta_path)
        return count

    def write_selected(self,
                       num_classes: int,
                       portion: float,
                       max_threshold: float = 1.0,
                       class_names: Optional[Sequence[str]] = None) -> dict:
        """CBST pass 2 of the whole set (:func:`write_class_balanced_labels`
        of this folder's files)."""
        return write_class_balanced_labels(self.labels, self.raw, self.conf,
                                           num_classes, portion,
                                           max_threshold, class_names)


def write_class_balanced_labels(label_paths: Sequence[str],
                                raw_paths: Sequence[str],
                                conf_paths: Sequence[str],
                                num_classes: int,
                                portion: float,
                                max_threshold: float = 1.0,
                                class_names: Optional[Sequence[str]] = None,
                                ignore_index: int = 255) -> Dict:
    """CBST selection (pass 2): filter the raw labels, write the finals.

    Reads every ``(raw, conf)`` pair twice: first to accumulate the per-class
    confidence histograms of the whole set, then to write
    ``label_paths[i]`` = :func:`apply_thresholds` of the pair with the
    thresholds of :func:`class_balanced_thresholds`. Always recomputed from
    the pairs (cheap), so a resumed run gives the same files.

    Args:
        label_paths (Sequence[str]): Output paths of the filtered labels.
        raw_paths (Sequence[str]): Unfiltered argmax labels (8-bit PNGs).
        conf_paths (Sequence[str]): Confidence levels (8-bit PNGs,
            ``round(255 conf)``).
        num_classes (int): Number of classes.
        portion (float): CBST portion in (0, 1] kept per class.
        max_threshold (float): Cap of the thresholds in (0, 1].
        class_names (Sequence[str], optional): Names for the summary.
        ignore_index (int): Value of dropped pixels. Defaults to 255.

    Returns:
        dict: :func:`selection_summary` plus ``class_portion``,
        ``max_threshold`` and ``thresholds`` (list, None for classes
        without pixels).

    Raises:
        FileNotFoundError: naming the first missing raw / conf file.
    """
    check_portion(portion, max_threshold)
    if not len(label_paths) == len(raw_paths) == len(conf_paths):
        raise ValueError('label_paths, raw_paths and conf_paths differ in '
                         'length')
    for path in (p for pair in zip(raw_paths, conf_paths) for p in pair):
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'class-balanced selection: {path} is missing (pass 1 '
                'writes a raw label and a confidence map per image; '
                'rerun the generation to complete them)')
    hist = np.zeros((num_classes, 256), dtype=np.int64)
    for raw, conf in zip(raw_paths, conf_paths):
        label, level = _read_checked(raw), _read_checked(conf)
        if label.shape != level.shape:
            raise ValueError(f'{raw} {label.shape} and {conf} {level.shape} '
                             'differ in size')
        confidence_histograms(label, level, num_classes, out=hist)
    thresholds = class_balanced_thresholds(hist, portion, max_threshold)
    for out, raw, conf in zip(label_paths, raw_paths, conf_paths):
        write_label_png(
            apply_thresholds(
                _read_checked(raw), _read_checked(conf), thresholds,
                ignore_index), out)
    summary = selection_summary(hist, thresholds, class_names)
    summary.update(
        class_portion=float(portion),
        max_threshold=float(max_threshold),
        thresholds=[None if np.isnan(t) else float(t) for t in thresholds])
    return summary
