"""Debug panels and pseudo-label statistics of a UDA training run."""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import mkdir_or_exist
from mmseg.registry import HOOKS

# Cityscapes colours (RGB) for the first 19 classes; further classes get
# fixed pseudo-random colours.
_CITYSCAPES_PALETTE = [[128, 64, 128], [244, 35, 232], [70, 70, 70],
                       [102, 102, 156], [190, 153, 153], [153, 153, 153],
                       [250, 170, 30], [220, 220, 0], [107, 142, 35],
                       [152, 251, 152], [70, 130, 180], [220, 20, 60],
                       [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
                       [0, 80, 100], [0, 0, 230], [119, 11, 32]]
IGNORE_COLOUR = (0, 0, 0)  # ignored / unlabelled pixels: black
NA_COLOUR = (96, 96, 96)  # a panel without data: grey
TITLES = ('target image', None, 'pseudo labels', 'student', 'ground truth',
          'classes')


def default_palette(num_classes: int) -> np.ndarray:
    """A fixed (num_classes, 3) uint8 RGB palette (Cityscapes colours
    first)."""
    colours = list(_CITYSCAPES_PALETTE[:num_classes])
    rng = np.random.default_rng(0)
    while len(colours) < num_classes:
        colours.append(rng.integers(32, 256, 3).tolist())
    return np.asarray(colours, dtype=np.uint8).reshape(-1, 3)


def colourise(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(H, W) class indices to an (H, W, 3) RGB image; indices outside the
    palette (ignore index 255, ...) are black."""
    out = np.empty(labels.shape + (3, ), dtype=np.uint8)
    out[...] = IGNORE_COLOUR
    valid = (labels >= 0) & (labels < len(palette))
    out[valid] = palette[labels[valid]]
    return out


def _put_title(tile: np.ndarray, text: str) -> None:
    scale = max(0.25, tile.shape[1] / 900)
    thick = max(1, int(round(scale * 2)))
    org = (3, 3 + int(18 * scale))
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                thick + 2, cv2.LINE_AA)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)


def _legend(shape, palette: np.ndarray,
            class_names: Optional[Sequence[str]]) -> np.ndarray:
    h, w = shape
    tile = np.full((h, w, 3), 255, dtype=np.uint8)
    num = len(palette)
    names = list(class_names) if class_names is not None and len(
        class_names) == num else [str(c) for c in range(num)]
    names.append('ignored')
    colours = [tuple(int(v) for v in c) for c in palette] + [IGNORE_COLOUR]
    cols = 2 if w >= 160 else 1
    rows = -(-len(names) // cols)
    row_h = max(1, h // rows)
    scale = max(0.2, min(0.5, row_h / 30))
    col_w = w // cols
    for i, (name, colour) in enumerate(zip(names, colours)):
        r, c = i % rows, i // rows
        y0, x0 = r * row_h, c * col_w
        side = max(1, row_h - 2)
        cv2.rectangle(tile, (x0 + 1, y0 + 1), (x0 + side, y0 + side), colour,
                      -1)
        cv2.putText(tile, name, (x0 + side + 3, y0 + side), 0, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def render_debug_panel(debug: dict,
                       palette: Optional[np.ndarray] = None,
                       class_names: Optional[Sequence[str]] = None,
                       max_tile_width: Optional[int] = 512) -> np.ndarray:
    """Draw a 2 x 3 panel from ``UDASegmentor.last_debug``.

    Layout (tiles of the target input size, or scaled down to
    ``max_tile_width``)::

        target image | teacher / aux head | pseudo labels
        student      | ground truth       | class legend

    Ignored and unlabelled pixels are black; a tile without data (no
    teacher, no pseudo labels, no target labels) is grey.

    Args:
        debug (dict): ``UDASegmentor.last_debug``.
        palette (np.ndarray, optional): (C, 3) RGB colours; defaults to
            :func:`default_palette`.
        class_names (Sequence[str], optional): Names for the legend.
        max_tile_width (int, optional): Tiles wider than this are scaled
            down (nearest for label maps). None keeps the input size.

    Returns:
        np.ndarray: The panel, (2 * h, 3 * w, 3) uint8, **BGR** (for
        ``cv2.imwrite``).
    """
    image = debug['image']
    h, w = image.shape[:2]
    if max_tile_width is not None and w > max_tile_width:
        h, w = max(1, round(h * max_tile_width / w)), max_tile_width
    num_classes = int(
        debug.get('num_classes')
        or len(palette if palette is not None else _CITYSCAPES_PALETTE))
    if palette is None or len(palette) < num_classes:
        palette = default_palette(num_classes)
    palette = np.asarray(palette, dtype=np.uint8)[:num_classes]

    def tile_of(labels):
        if labels is None:
            return np.full((h, w, 3), NA_COLOUR, dtype=np.uint8), False
        rgb = colourise(np.asarray(labels), palette)
        return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_NEAREST), True

    img = cv2.resize(np.ascontiguousarray(image), (w, h),
                     interpolation=cv2.INTER_AREA)
    reference, has_ref = tile_of(debug.get('reference'))
    pseudo, has_pl = tile_of(debug.get('pseudo_labels'))
    student, has_st = tile_of(debug.get('student'))
    gt, has_gt = tile_of(debug.get('gt'))
    tiles = [
        img, reference, pseudo, student, gt,
        _legend((h, w), palette, class_names)
    ]
    present = [True, has_ref, has_pl, has_st, has_gt, True]
    titles = list(TITLES)
    titles[1] = debug.get('reference_name') or 'teacher'
    for tile, title, ok in zip(tiles, titles, present):
        if title != 'classes':
            _put_title(tile, title if ok else f'{title}: n/a')
    panel = np.concatenate(
        [np.concatenate(tiles[:3], axis=1),
         np.concatenate(tiles[3:], axis=1)],
        axis=0)
    return cv2.cvtColor(panel, cv2.COLOR_RGB2BGR)


@HOOKS.register_module()
class UDAVisualizationHook(Hook):
    """Debug views of a ``UDASegmentor`` run.

    - Every ``interval`` iterations (on the main process) the model keeps
      a detached snapshot of the first target image of the batch
      (``keep_debug`` is set for that iteration only) and the hook writes
      one PNG panel (:func:`render_debug_panel`) to
      ``work_dir/<out_dir>/iter_XXXXXX.png`` (1-based iteration, like
      checkpoints): target image, teacher prediction (SAC; without a
      teacher the student's auxiliary head), pseudo labels of the full view
      with ignored pixels in black, the student's eval-mode prediction, the
      ground truth when the target samples carry ``gt_sem_seg``, and a class
      legend. Colours and class names come from the training dataset's
      metainfo (a ``UDADataset`` gives the target's), else a fixed palette.
    - With ``log_pl_stats`` every step with self-training logs
      ``pl_coverage.<class>`` (share of target pixels pseudo-labelled as the
      class) and, when the target train set is loaded with labels,
      ``pl_accuracy`` (see ``UDASegmentor.pseudo_label_stats``). These cost
      one ``bincount`` (and one nearest warp of the labels) per step.

    To monitor pseudo-label accuracy, load the target training labels
    (e.g. ``CityscapesRawDataset(with_labels=True)`` and
    ``LoadMappedAnnotations`` in the target train pipeline before the
    geometric transforms); they are never used for training.

    Register it as a keyed default hook, which merges with the bases'
    ``default_hooks`` (a ``custom_hooks`` list in a config would replace
    the inherited one, e.g. SAC's ``EMATeacherHook``)::

        default_hooks = dict(
            uda_vis=dict(type='UDAVisualizationHook', interval=500))

    Args:
        interval (int): Panel interval in iterations. Defaults to 500.
        out_dir (str): Folder under ``work_dir``. Defaults to 'vis'.
        log_pl_stats (bool): Log the pseudo-label statistics every step.
            Defaults to True.
        max_tile_width (int, optional): Scale tiles down to this width.
            Defaults to 512.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 out_dir: str = 'vis',
                 log_pl_stats: bool = True,
                 max_tile_width: Optional[int] = 512) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.out_dir = out_dir
        self.log_pl_stats = log_pl_stats
        self.max_tile_width = max_tile_width
        self.palette: Optional[np.ndarray] = None
        self.class_names: Optional[tuple] = None

    @staticmethod
    def _model(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if not hasattr(model, 'keep_debug') or not hasattr(
                model, 'collect_debug'):
            raise TypeError(
                'UDAVisualizationHook needs a UDASegmentor model, got '
                f'{type(model).__name__}')
        return model

    def before_train(self, runner) -> None:
        """Read colours and class names; switch the statistics on."""
        model = self._model(runner)
        meta = getattr(runner.train_dataloader.dataset, 'metainfo', None)
        meta = meta if isinstance(meta, dict) else {}
        classes = meta.get('classes')
        if classes:
            self.class_names = tuple(classes)
            model.class_names = self.class_names
        palette = meta.get('palette')
        if palette is not None and len(palette) >= model.num_classes:
            self.palette = np.asarray(palette, dtype=np.uint8).reshape(
                -1, 3)[:model.num_classes]
        model.pl_stats = self.log_pl_stats

    def _draws(self, runner) -> bool:
        return is_main_process() and self.every_n_train_iters(
            runner, self.interval)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """Ask for a debug snapshot on panel iterations only."""
        self._model(runner).keep_debug = self._draws(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Write the panel of this iteration, if any."""
        model = self._model(runner)
        debug, model.last_debug = model.last_debug, None
        model.keep_debug = False
        if not self._draws(runner) or debug is None:
            return
        self.write_panel(runner, debug)

    def write_panel(self, runner, debug: dict) -> str:
        """Render ``debug`` and write it; returns the file path."""
        panel = render_debug_panel(debug, self.palette, self.class_names,
                                   self.max_tile_width)
        folder = osp.join(runner.work_dir, self.out_dir)
        mkdir_or_exist(folder)
        path = osp.join(folder, f'iter_{runner.iter + 1:06d}.png')
        if not cv2.imwrite(path, panel):
            raise OSError(f'UDAVisualizationHook: could not write {path}')
        return path

    def after_train(self, runner) -> None:
        """Switch the debug features off again."""
        model = self._model(runner)
        model.keep_debug = False
        model.pl_stats = False
        model.last_debug = None
