# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Class-balanced pseudo-label selection (CBST).

Class-balanced self-training (CBST; Zou et al., "Unsupervised Domain
Adaptation for Semantic Segmentation via Class-Balanced Self-Training",
ECCV 2018, Sec. 3.3 / Alg. 1) keeps, for every class :math:`c`, only the
most confident fraction :math:`p` of the target pixels predicted as
:math:`c`; the others become "ignore". A single global threshold would keep
almost all pixels of the large, easy classes (road, car, vegetation) and
almost none of the small, hard ones (fence, rider, bicycle); per-class
thresholds keep the same *portion* of every class. MRNet stage II "adopts
the class balance policy of CBST" (Zheng & Yang, IJCAI 2020, Sec. 3.3).

Here the confidence of a pixel is the fused probability of its argmax class
(:func:`~mmseg_uda.apis.pseudo_label_probs`, already in [0, 1]), quantised
to 256 levels :math:`q = \\mathrm{round}(255\\,\\mathrm{conf})` (stored as
an 8-bit PNG next to the unfiltered label). With :math:`H_c` the histogram
of the levels of the :math:`n_c` pixels predicted as :math:`c` over the
whole target set and :math:`m_c = \\lceil p\\, n_c \\rceil`,

.. math::
    k_c = \\max\\{k : \\#\\{q \\ge k\\} \\ge m_c\\}, \\qquad
    t_c = \\min(k_c / 255,\\ T),

i.e. :math:`k_c/255` is the :math:`m_c`-th largest confidence of the class
(the :math:`(1-p)` quantile, exact on the quantised scale) and :math:`T`
the optional cap of CBST's practice (confident classes are not over-pruned;
:math:`T = 1` disables it). A pixel predicted as :math:`c` is kept iff
:math:`q/255 \\ge t_c`: ties at the threshold are all kept, so the kept
fraction of a class is at least :math:`p` (more when many pixels share the
threshold level, or when the cap binds). Classes without predicted pixels
get no threshold (NaN; nothing to keep).
"""
import math
from typing import Dict, Optional, Sequence

import numpy as np

#: Number of confidence levels (8-bit quantisation).
CONF_LEVELS = 256
_EPS = 1e-6


def check_portion(portion: float, max_threshold: float = 1.0) -> None:
    """Raise ``ValueError`` unless ``0 < portion <= 1`` and
    ``0 < max_threshold <= 1``."""
    if not (isinstance(portion, (int, float)) and 0 < portion <= 1):
        raise ValueError(
            f'class portion must be in (0, 1], got {portion!r}')
    if not (isinstance(max_threshold, (int, float))
            and 0 < max_threshold <= 1):
        raise ValueError(
            f'max threshold must be in (0, 1], got {max_threshold!r}')


def quantize_confidence(conf) -> np.ndarray:
    """Confidences in [0, 1] -> uint8 levels ``round(255 * conf)``."""
    conf = np.asarray(conf, dtype=np.float64)
    return np.clip(np.rint(conf * (CONF_LEVELS - 1)), 0,
                   CONF_LEVELS - 1).astype(np.uint8)


def confidence_histograms(label: np.ndarray,
                          conf_level: np.ndarray,
                          num_classes: int,
                          out: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-class histograms of the confidence levels of one label map.

    Args:
        label (np.ndarray): (H, W) predicted train ids; values outside
            ``[0, num_classes)`` (e.g. 255) are not counted.
        conf_level (np.ndarray): (H, W) uint8 confidence levels.
        num_classes (int): Number of classes C.
        out (np.ndarray, optional): (C, 256) int64 array to add to.

    Returns:
        np.ndarray: (C, 256) int64 counts (``out`` when given).
    """
    label = np.asarray(label).astype(np.int64).ravel()
    conf_level = np.asarray(conf_level).astype(np.int64).ravel()
    if label.shape != conf_level.shape:
        raise ValueError(f'label and confidence sizes differ: {label.size} '
                         f'vs {conf_level.size}')
    valid = (label >= 0) & (label < num_classes)
    hist = np.bincount(
        label[valid] * CONF_LEVELS + conf_level[valid],
        minlength=num_classes * CONF_LEVELS).reshape(num_classes,
                                                     CONF_LEVELS)
    if out is None:
        return hist.astype(np.int64)
    out += hist
    return out


def class_balanced_thresholds(histograms: np.ndarray,
                              portion: float,
                              max_threshold: float = 1.0) -> np.ndarray:
    """CBST per-class confidence thresholds (Zou et al., ECCV 2018).

    For every class the threshold keeps its ``portion`` most confident
    pixels: ``t_c = min(k_c / 255, max_threshold)`` with ``k_c`` the largest
    level such that at least ``ceil(portion * n_c)`` of the ``n_c`` pixels
    of the class have a level ``>= k_c`` (see the module docstring).

    Args:
        histograms (np.ndarray): (C, 256) counts of the confidence levels of
            the pixels predicted as each class over the whole target set
            (:func:`confidence_histograms`).
        portion (float): Portion ``p`` in (0, 1] of every class to keep.
        max_threshold (float): Cap ``T`` in (0, 1] of the thresholds.
            Defaults to 1.0 (no cap).

    Returns:
        np.ndarray: (C,) float64 thresholds in [0, 1]; NaN for classes
        without pixels.
    """
    check_portion(portion, max_threshold)
    hist = np.asarray(histograms, dtype=np.int64)
    if hist.ndim != 2 or hist.shape[1] != CONF_LEVELS:
        raise ValueError(f'histograms must be (C, {CONF_LEVELS}), got '
                         f'{hist.shape}')
    # at_least[c, k] = number of pixels of class c with level >= k
    at_least = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
    totals = at_least[:, 0]
    thresholds = np.full(hist.shape[0], np.nan)
    for c, n in enumerate(totals):
        if n == 0:
            continue
        need = max(1, math.ceil(portion * n - _EPS))
        # at_least is non-increasing in k: count the levels that keep enough
        level = int((at_least[c] >= need).sum()) - 1
        thresholds[c] = min(level / (CONF_LEVELS - 1), max_threshold)
    return thresholds


def threshold_levels(thresholds: Sequence[float]) -> np.ndarray:
    """Smallest kept confidence level per class: ``ceil(255 t_c)``; 256
    (nothing kept) for NaN."""
    t = np.asarray(thresholds, dtype=np.float64)
    levels = np.full(t.shape, CONF_LEVELS, dtype=np.int64)
    ok = ~np.isnan(t)
    levels[ok] = np.ceil(t[ok] * (CONF_LEVELS - 1) - _EPS).astype(np.int64)
    return np.clip(levels, 0, CONF_LEVELS)


def apply_thresholds(label: np.ndarray,
                     conf_level: np.ndarray,
                     thresholds: Sequence[float],
                     ignore_index: int = 255) -> np.ndarray:
    """Set the pixels below their class's CBST threshold to ``ignore_index``.

    A pixel predicted as ``c`` is kept iff ``conf_level / 255 >= t_c``
    (ties kept); classes with a NaN threshold lose all their pixels, values
    outside ``[0, C)`` (e.g. already ignored) are left as they are.

    Args:
        label (np.ndarray): (H, W) unfiltered train ids.
        conf_level (np.ndarray): (H, W) uint8 confidence levels.
        thresholds (Sequence[float]): (C,) thresholds of
            :func:`class_balanced_thresholds`.
        ignore_index (int): Value of dropped pixels. Defaults to 255.

    Returns:
        np.ndarray: The filtered label map (a new array, dtype of
        ``label``).
    """
    label = np.asarray(label)
    conf_level = np.asarray(conf_level)
    if label.shape != conf_level.shape:
        raise ValueError(f'label shape {label.shape} != confidence shape '
                         f'{conf_level.shape}')
    levels = threshold_levels(thresholds)
    num_classes = len(levels)
    lab = label.astype(np.int64)
    valid = (lab >= 0) & (lab < num_classes)
    need = np.full(lab.shape, -1, dtype=np.int64)
    need[valid] = levels[lab[valid]]
    out = label.copy()
    out[valid & (conf_level.astype(np.int64) < need)] = ignore_index
    return out


def kept_counts(histograms: np.ndarray,
                thresholds: Sequence[float]) -> np.ndarray:
    """(C,) number of pixels of each class that :func:`apply_thresholds`
    keeps, from the histograms."""
    hist = np.asarray(histograms, dtype=np.int64)
    levels = threshold_levels(thresholds)
    k = np.arange(CONF_LEVELS)[None, :]
    return (hist * (k >= levels[:, None])).sum(1)


def selection_summary(histograms: np.ndarray,
                      thresholds: Sequence[float],
                      class_names: Optional[Sequence[str]] = None) -> Dict:
    """Per-class thresholds and kept fractions (for ``meta.json``).

    Returns:
        dict: ``classes`` (name -> ``pixels``, ``threshold`` (None without
        pixels), ``kept``, ``kept_fraction`` (None without pixels)),
        ``pixels``, ``kept`` and ``kept_fraction`` over all classes.
    """
    hist = np.asarray(histograms, dtype=np.int64)
    num_classes = hist.shape[0]
    names = list(class_names or [])
    if len(names) != num_classes:
        names = [str(c) for c in range(num_classes)]
    totals = hist.sum(1)
    kept = kept_counts(hist, thresholds)
    classes = {}
    for c, name in enumerate(names):
        n = int(totals[c])
        t = float(thresholds[c])
        classes[name] = dict(
            pixels=n,
            threshold=None if math.isnan(t) else t,
            kept=int(kept[c]),
            kept_fraction=float(kept[c] / n) if n else None)
    total = int(totals.sum())
    return dict(
        classes=classes,
        pixels=total,
        kept=int(kept.sum()),
        kept_fraction=float(kept.sum() / total) if total else None)


def format_summary(summary: Dict) -> str:
    """A small text table: class, pixels, threshold, kept %."""
    rows = [('class', 'pixels', 'threshold', 'kept %')]
    for name, s in summary['classes'].items():
        rows.append((name, str(s['pixels']),
                     '-' if s['threshold'] is None else
                     f"{s['threshold']:.3f}",
                     '-' if s['kept_fraction'] is None else
                     f"{100 * s['kept_fraction']:.1f}"))
    rows.append(('all', str(summary['pixels']), '',
                 '-' if summary['kept_fraction'] is None else
                 f"{100 * summary['kept_fraction']:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return '\n'.join(
        '  '.join([r[0].ljust(widths[0])] +
                  [r[i].rjust(widths[i]) for i in range(1, 4)])
        for r in rows)
