"""Inference on one's own images: models, inputs, test-time augmentation and
outputs of ``tools/infer.py``.

A model comes either from an exported folder (``config.py`` + ``model.pth``
of ``tools/export_model.py``, loaded with ``mmseg.apis.init_model``) or from
a training config + checkpoint (the student or teacher is extracted in
memory, exactly as the export does). Predictions go through mmseg's own
machinery: the config's test pipeline, ``model.test_step`` and, with TTA,
``SegTTAModel`` over a ``TestTimeAug`` pipeline (flips x scales).
"""
import copy
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.fileio import get as read_bytes
from mmengine.registry import init_default_scope
from PIL import Image

from ..datasets.formats import check_image_bytes
from .export import (build_network, dataset_meta_of, deploy_config,
                     load_training_checkpoint, network_state_dict)

#: Image file extensions read from a folder (case-insensitive).
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff',
                    '.webp')
EXPORTED_CONFIG = 'config.py'
EXPORTED_WEIGHTS = 'model.pth'


class ImageReadError(OSError):
    """An input file that is missing, empty or not a decodable image."""


def read_image(path: str) -> np.ndarray:
    """Read an image as a BGR uint8 array (what ``LoadImageFromFile``
    gives), or raise :class:`ImageReadError` naming the file."""
    try:
        data = read_bytes(path)
        # the training loader's check (LoadCheckedImageFromFile): empty
        # files and truncated PNGs, which decoders may half-decode
        check_image_bytes(data, path)
    except OSError as e:
        raise ImageReadError(f'cannot read {path}: {e}') from e
    img = mmcv.imfrombytes(data, flag='color', backend='cv2')
    if img is None:
        raise ImageReadError(
            f'cannot decode {path}: empty, truncated or not an image')
    return img


def list_images(spec: str,
                extensions: Sequence[str] = IMAGE_EXTENSIONS,
                recursive: bool = True) -> Tuple[str, List[str]]:
    """Input images of ``spec``: one file, a folder or a glob pattern.

    Args:
        spec (str): Image path, folder, or glob (``'dir/**/*.jpg'``).
        extensions (Sequence[str]): Extensions taken from a folder.
        recursive (bool): Walk sub-folders of a folder.

    Returns:
        tuple: ``(root, paths)``: the folder output names are relative to,
        and the sorted image paths.
    """
    if osp.isfile(spec):
        return osp.dirname(osp.abspath(spec)), [spec]
    exts = tuple(e.lower() for e in extensions)
    if osp.isdir(spec):
        if recursive:
            paths = [
                osp.join(d, f) for d, _, files in os.walk(spec)
                for f in files
            ]
        else:
            paths = [osp.join(spec, f) for f in os.listdir(spec)]
        paths = sorted(p for p in paths
                       if osp.isfile(p) and p.lower().endswith(exts))
        if not paths:
            raise FileNotFoundError(
                f'no images with extensions {list(exts)} in folder {spec}')
        return spec, paths
    paths = sorted(p for p in glob.glob(spec, recursive=True)
                   if osp.isfile(p))
    if not paths:
        raise FileNotFoundError(
            f'{spec} is neither an image file, a folder nor a glob that '
            'matches files')
    root = osp.commonpath([osp.dirname(osp.abspath(p)) for p in paths])
    return root, paths


def load_segmentor(model: str,
                   checkpoint: Optional[str] = None,
                   network: str = 'student',
                   device: str = 'cpu') -> torch.nn.Module:
    """A plain mmseg segmentor in eval mode, with ``cfg`` and
    ``dataset_meta`` set (like ``mmseg.apis.init_model``).

    Args:
        model (str): An exported model folder, an exported config, or a
            training config (then ``checkpoint`` is its training checkpoint
            and ``network`` picks the student or SAC's teacher).
        checkpoint (str, optional): Weights; default ``model.pth`` next to
            an exported config.
        network (str): ``'student'`` or ``'teacher'`` (training configs).
        device (str): Device.
    """
    from mmseg.apis import init_model
    config = osp.join(model, EXPORTED_CONFIG) if osp.isdir(model) else model
    if not osp.isfile(config):
        raise FileNotFoundError(f'model config {config} does not exist')
    if checkpoint is None:
        checkpoint = osp.join(osp.dirname(config), EXPORTED_WEIGHTS)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    cfg = Config.fromfile(config)
    if cfg.model.get('type') == 'UDASegmentor':
        ckpt = load_training_checkpoint(checkpoint)
        meta = dataset_meta_of(cfg, ckpt)
        deploy = deploy_config(cfg, meta)
        weights = network_state_dict(ckpt.get('state_dict', ckpt), network)
        return build_network(deploy, weights, meta, device)
    if network != 'student':
        raise ValueError(f'{config} is an exported (single-network) model; '
                         '--model teacher needs a training config')
    segmentor = init_model(cfg, checkpoint, device=device)
    if not getattr(segmentor, 'dataset_meta', None) or \
            'classes' not in segmentor.dataset_meta:
        segmentor.dataset_meta = cfg.get('dataset_meta')
    return segmentor


def _resize_scale(pipeline: Sequence[dict]) -> Optional[Tuple[int, int]]:
    for t in pipeline:
        if t.get('type') == 'Resize' and t.get('scale') is not None:
            return tuple(t['scale'])
    return None


def tta_pipeline(test_pipeline: Sequence[dict],
                 scales: Sequence[float] = (1.0, )) -> List[dict]:
    """mmseg's ``TestTimeAug`` pipeline: every scale x {no flip, flip}.

    Scale ``r`` resizes to ``r`` times the test pipeline's ``Resize`` scale
    (keeping the aspect ratio), or by ``scale_factor=r`` without one.
    """
    base = _resize_scale(test_pipeline)
    if base is None:
        resizes = [dict(type='Resize', scale_factor=r, keep_ratio=True)
                   for r in scales]
    else:
        resizes = [
            dict(type='Resize',
                 scale=(int(round(base[0] * r)), int(round(base[1] * r))),
                 keep_ratio=True) for r in scales
        ]
    flips = [
        dict(type='RandomFlip', prob=0., direction='horizontal'),
        dict(type='RandomFlip', prob=1., direction='horizontal')
    ]
    return [
        copy.deepcopy(test_pipeline[0]),
        dict(type='TestTimeAug',
             transforms=[resizes, flips, [dict(type='PackSegInputs')]])
    ]


class Predictor:
    """Predicts train-id maps of images at their original size.

    Args:
        segmentor (nn.Module): A plain mmseg segmentor with ``cfg``.
        tta (bool): Average softmax predictions over flips x ``scales``
            with mmseg's ``SegTTAModel``. (It takes the softmax of each
            view's ``seg_logits``; for ``DualDeepLabV2Head`` these are the
            fused class scores of the two classifiers, so the views are
            averaged after a softmax of those scores.)
        scales (Sequence[float]): TTA scales. Defaults to (1.0, 0.75).
    """

    def __init__(self, segmentor: torch.nn.Module, tta: bool = False,
                 scales: Sequence[float] = (1.0, 0.75)) -> None:
        from mmseg.models import SegTTAModel
        init_default_scope('mmseg')
        cfg = segmentor.cfg
        pipeline = [dict(t) for t in copy.deepcopy(cfg.test_pipeline)]
        if pipeline[0].get('type') != 'LoadImageFromFile':
            raise ValueError('the test pipeline must start with '
                             f'LoadImageFromFile, got {pipeline[0]}')
        pipeline[0] = dict(type='LoadImageFromNDArray')
        self.tta = tta
        if tta:
            pipeline = tta_pipeline(pipeline, scales)
            self.model = SegTTAModel(module=segmentor)
        else:
            self.model = segmentor
        self.pipeline = Compose(pipeline)
        self.dataset_meta = segmentor.dataset_meta

    @torch.no_grad()
    def __call__(self, img: np.ndarray, path: str = '') -> np.ndarray:
        """Train ids (H, W) uint8 of a BGR image."""
        data = self.pipeline(dict(img=img, img_path=path))
        batch = pseudo_collate([data])
        result = self.model.test_step(batch)[0]
        return result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)


def label_image(label: np.ndarray, palette: Sequence[Sequence[int]]
                ) -> Image.Image:
    """A palette ('P' mode) PNG image: pixel values are the train ids, the
    palette colours them (255, ignore, is black)."""
    img = Image.fromarray(label.astype(np.uint8), mode='P')
    flat = np.zeros((256, 3), dtype=np.uint8)
    flat[:len(palette)] = np.asarray(palette, dtype=np.uint8)
    img.putpalette(flat.reshape(-1).tolist())
    return img


def overlay(img_bgr: np.ndarray, label: np.ndarray,
            palette: Sequence[Sequence[int]], alpha: float = 0.5
            ) -> np.ndarray:
    """RGB blend ``(1 - alpha) image + alpha colour(label)``; pixels with
    an id outside the palette keep the image. (``SegLocalVisualizer`` draws
    the same blend, but through a process-wide named instance and a
    matplotlib canvas; one numpy line per image is enough here.)"""
    rgb = img_bgr[..., ::-1].astype(np.float32)
    pal = np.asarray(palette, dtype=np.float32)
    valid = label < len(pal)
    colour = np.zeros_like(rgb)
    colour[valid] = pal[label[valid]]
    out = rgb.copy()
    out[valid] = (1 - alpha) * rgb[valid] + alpha * colour[valid]
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def output_paths(path: str, root: str, out_dir: str) -> Dict[str, str]:
    """``labels/<rel>.png`` and ``overlays/<rel>.png`` under ``out_dir``,
    ``<rel>`` the image path relative to ``root`` without extension."""
    rel = osp.splitext(osp.relpath(osp.abspath(path), osp.abspath(root)))[0]
    return dict(
        label=osp.join(out_dir, 'labels', rel + '.png'),
        overlay=osp.join(out_dir, 'overlays', rel + '.png'))


def write_outputs(img: np.ndarray, label: np.ndarray,
                  palette: Sequence[Sequence[int]], paths: Dict[str, str],
                  alpha: float = 0.5) -> None:
    """Write the label PNG and the overlay of one image."""
    for p in paths.values():
        os.makedirs(osp.dirname(p), exist_ok=True)
    label_image(label, palette).save(paths['label'])
    Image.fromarray(overlay(img, label, palette, alpha)).save(
        paths['overlay'])
