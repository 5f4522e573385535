# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Offline pseudo labels for self-training (MRNet stage II).

MRNet (Zheng & Yang, IJCAI 2020, Sec. 3.3) predicts, once, a pseudo label
for every target training image with the stage-I model,

.. math::
    \\hat{y} = \\arg\\max_c \\big(\\sigma(z_p) + 0.5\\, \\sigma(z_a)\\big)_c

(:math:`\\sigma` the softmax over classes, :math:`z_p` / :math:`z_a` the
primary / auxiliary logits), and then fine-tunes on the target domain only.
The functions here do the prediction and the bookkeeping;
``tools/gen_pseudo_labels.py`` is the command-line front end and
:class:`~mmseg_uda.datasets.PseudoLabelDataset` reads the result.

Prediction of one image (:func:`pseudo_label_probs`):

1. The image goes through the config's *test* pipeline without annotation
   loading (:func:`inference_pipeline`): load, resize to the model input
   size as for evaluation, pack. No random transform.
2. The model's data preprocessor normalises it; any test-time padding is
   cropped away again (the network is fully convolutional).
3. For every view (scale :math:`s` of the preprocessed input, bilinear,
   optionally horizontally flipped) the student's primary and auxiliary
   logits of a whole-image forward pass (the segmentor's ``test_cfg`` mode
   is not used) are bilinearly resized (``align_corners`` of the decode head)
   straight to the ORIGINAL image size (``ori_shape``) and fused into class
   probabilities (un-flipped afterwards):

   - ``fusion='prob'`` (paper, default):
     :math:`(\\sigma(z_p) + w\\,\\sigma(z_a)) / (1 + w)`;
   - ``fusion='logit'`` (authors' release): :math:`\\sigma(z_p + w\\,z_a)`;

   with :math:`w` the decode head's ``fuse_weight`` (0.5). A model without
   a second classifier gives :math:`\\sigma(z_p)`.
4. The probabilities are averaged over views; the pseudo label is their
   argmax. Without TTA there is a single view (scale 1, no flip). With TTA
   the views are ``scales`` x {identity, flip}; the release sums the
   ``'logit'`` fusion over two scales x flip (pass ``fusion='logit'``).
   By default no confidence threshold is applied (neither paper nor release
   uses one).

Optionally (``class_portion``), the labels are filtered by the class-balanced
selection of CBST (Zou et al., ECCV 2018), whose class balance policy MRNet
stage II adopts (:mod:`~mmseg_uda.apis.pseudo_label_selection`): pass 1
writes the unfiltered argmax label to ``DIR/raw/<rel>.png`` and the
confidence of the argmax class (the fused probability above, already in
[0, 1]; 8-bit, ``round(255 conf)``) to ``DIR/conf/<rel>.png``; pass 2 (rank
0) computes per-class thresholds from the confidence histograms of the
whole set and writes ``DIR/<rel>.png`` with the pixels below the threshold
of their class set to 255 (:func:`write_class_balanced_labels`).
"""
import copy
import io
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from PIL import Image
from torch import Tensor

from mmseg.registry import DATASETS, MODELS
from ..datasets.pseudo_label_dataset import (PSEUDO_LABEL_META,
                                             image_dir_and_suffix,
                                             pseudo_label_path)
from ..models.uda.student_outputs import forward_heads
from .pseudo_label_selection import (apply_thresholds, check_portion,
                                     class_balanced_thresholds,
                                     confidence_histograms, format_summary,
                                     quantize_confidence, selection_summary)

#: Transforms that load labels; dropped from the test pipeline.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadMappedAnnotations',
                      'LoadDepthAnnotation', 'LoadBiomedicalAnnotation')
FUSIONS = ('prob', 'logit')
#: Sub-folders of the unfiltered labels / confidences (class-balanced mode).
RAW_DIR = 'raw'
CONF_DIR = 'conf'


def _type_name(transform) -> str:
    t = transform.get('type') if isinstance(transform, dict) else \
        type(transform).__name__
    return t if isinstance(t, str) else getattr(t, '__name__', str(t))


def inference_pipeline(test_pipeline: Sequence[dict]) -> List[dict]:
    """The test pipeline without annotation loading.

    Args:
        test_pipeline (list[dict]): The config's ``test_pipeline`` (load
            image, resize to the model input, load annotations, pack).

    Returns:
        list[dict]: A deep copy without ``ANNOTATION_LOADERS``.

    Raises:
        ValueError: If the pipeline holds a random or test-time-augmentation
            transform (pseudo labels must be deterministic; use ``tta``
            instead), or does not end with ``PackSegInputs``.
    """
    pipeline = []
    for t in test_pipeline:
        name = _type_name(t)
        if name in ANNOTATION_LOADERS:
            continue
        if name.startswith('Random') or name == 'TestTimeAug':
            raise ValueError(
                f'the test pipeline holds {name}; pseudo labels need a '
                'deterministic pipeline (load, resize, pack); use --tta for '
                'flip / multi-scale averaging')
        pipeline.append(copy.deepcopy(t))
    if not pipeline or _type_name(pipeline[-1]) != 'PackSegInputs':
        raise ValueError('the test pipeline must end with PackSegInputs, got '
                         f'{[_type_name(t) for t in test_pipeline]}')
    return pipeline


def target_dataset_cfg(cfg: Config, dataset_key: str = 'target') -> dict:
    """Config of the target training set, with the inference pipeline.

    Takes ``train_dataloader.dataset.<dataset_key>`` when the train dataset
    has that key (a :class:`UDADataset`), the wrapped ``dataset`` of a
    :class:`PseudoLabelDataset` (a stage-II config: next round of
    self-training), else ``train_dataloader.dataset`` itself. Its pipeline
    is replaced by :func:`inference_pipeline` of ``cfg.test_pipeline`` (or,
    without one, of ``test_dataloader.dataset.pipeline``).

    Args:
        cfg (Config): A training config.
        dataset_key (str): Key of the target set in a UDA dataset config.

    Returns:
        dict: The dataset config.
    """
    try:
        ds_cfg = cfg.train_dataloader.dataset
    except AttributeError:
        raise KeyError('the config has no train_dataloader.dataset; pseudo '
                       'labels are made for its target training set')
    if dataset_key in ds_cfg:
        ds_cfg = ds_cfg[dataset_key]
    elif ds_cfg.get('type') == 'UDADataset':
        raise KeyError(f'train_dataloader.dataset (UDADataset) has no key '
                       f'{dataset_key!r}; pass --dataset-key')
    elif ds_cfg.get('type') == 'PseudoLabelDataset':
        ds_cfg = ds_cfg['dataset']
    test_pipeline = cfg.get('test_pipeline')
    if test_pipeline is None:
        test_pipeline = cfg.get('test_dataloader', {}).get('dataset',
                                                           {}).get('pipeline')
    if test_pipeline is None:
        raise KeyError('the config has neither `test_pipeline` nor '
                       'test_dataloader.dataset.pipeline')
    ds_cfg = copy.deepcopy(
        ds_cfg.to_dict() if isinstance(ds_cfg, ConfigDict) else dict(ds_cfg))
    ds_cfg['pipeline'] = inference_pipeline(test_pipeline)
    return ds_cfg


def build_target_dataset(cfg: Config, dataset_key: str = 'target'):
    """Build :func:`target_dataset_cfg` (fully initialised)."""
    dataset = DATASETS.build(target_dataset_cfg(cfg, dataset_key))
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def init_model(cfg: Config,
               checkpoint: Optional[str] = None,
               device: str = 'cpu') -> torch.nn.Module:
    """Build ``cfg.model``, load ``checkpoint`` and put it in eval mode.

    SyncBN layers are reverted to BN (inference only, one process each).

    Args:
        cfg (Config): Config with ``model`` (e.g. a ``UDASegmentor``).
        checkpoint (str, optional): Checkpoint path (mmengine
            ``load_checkpoint``, non-strict: e.g. discriminator weights of a
            stage-I checkpoint are simply unused).
        device (str): Device. Defaults to 'cpu'.
    """
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.runner import load_checkpoint
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def _split_model(model: torch.nn.Module):
    """``(student segmentor, data preprocessor)`` of a UDA or mmseg model."""
    segmentor = getattr(model, 'segmentor', model)
    preprocessor = getattr(model, 'data_preprocessor', None)
    if preprocessor is None:
        raise AttributeError(
            f'{type(model).__name__} has no data_preprocessor')
    return segmentor, preprocessor


def fuse_logits(segmentor: torch.nn.Module,
                primary: Tensor,
                aux: Optional[Tensor],
                fusion: str = 'prob') -> Tensor:
    """Class probabilities (N, C, H, W) from same-size logits.

    Args:
        segmentor (nn.Module): Student; its decode head's ``fuse_weight``
            (default 0.5) is :math:`w`.
        primary (Tensor): Primary logits.
        aux (Tensor, optional): Auxiliary logits; None -> softmax(primary).
        fusion (str): ``'prob'`` (paper) or ``'logit'`` (release).
    """
    if fusion not in FUSIONS:
        raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
    primary = primary.float()
    if aux is None:
        return F.softmax(primary, dim=1)
    w = float(getattr(segmentor.decode_head, 'fuse_weight', 0.5))
    aux = aux.float()
    if fusion == 'prob':
        return (F.softmax(primary, dim=1) + w * F.softmax(aux, dim=1)) / \
            (1. + w)
    return F.softmax(primary + w * aux, dim=1)


@torch.no_grad()
def pseudo_label_probs(model: torch.nn.Module,
                       data: dict,
                       fusion: str = 'prob',
                       scales: Sequence[float] = (1.0, ),
                       flip: bool = False) -> Tensor:
    """Fused class probabilities of one image at its original size.

    See the module docstring for the exact procedure.

    Args:
        model (nn.Module): A ``UDASegmentor`` (its student ``segmentor`` is
            used) or an mmseg segmentor, in eval mode.
        data (dict): One collated sample (``pseudo_collate([sample])``) of
            the inference pipeline.
        fusion (str): ``'prob'`` (paper) or ``'logit'`` (release).
        scales (Sequence[float]): Input scales of the views.
        flip (bool): Add the horizontally flipped view of every scale.

    Returns:
        Tensor: Probabilities (C, H0, W0), (H0, W0) = ``ori_shape``.
    """
    segmentor, preprocessor = _split_model(model)
    data = preprocessor(data, False)
    inputs, samples = data['inputs'], data['data_samples']
    if inputs.shape[0] != 1:
        raise ValueError('pseudo_label_probs takes one image at a time')
    meta = samples[0].metainfo
    ori_h, ori_w = meta['ori_shape'][:2]
    img_h, img_w = meta.get('img_shape', inputs.shape[-2:])[:2]
    inputs = inputs[..., :img_h, :img_w]  # drop test-time padding
    align = getattr(segmentor.decode_head, 'align_corners', False)

    def to_ori(x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) == (ori_h, ori_w):
            return x.float()
        return F.interpolate(
            x.float(),
            size=(ori_h, ori_w),
            mode='bilinear',
            align_corners=align)

    total, num_views = None, 0
    for scale in scales:
        if scale <= 0:
            raise ValueError(f'scales must be positive, got {scale}')
        x = inputs
        if scale != 1.0:
            size = (max(1, int(round(img_h * scale))),
                    max(1, int(round(img_w * scale))))
            x = F.interpolate(
                inputs, size=size, mode='bilinear', align_corners=False)
        for flipped in ((False, True) if flip else (False, )):
            out = forward_heads(segmentor, x.flip(-1) if flipped else x)
            aux = out.aux
            # resize first, un-flip afterwards: the flip average of a
            # mirror-symmetric image is then exactly symmetric
            probs = fuse_logits(segmentor, to_ori(out.primary),
                                None if aux is None else to_ori(aux), fusion)
            if flipped:
                probs = probs.flip(-1)
            total = probs if total is None else total + probs
            num_views += 1
    return (total / num_views)[0]


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


def _read_png(path: str) -> np.ndarray:
    return np.array(Image.open(path))


def write_class_balanced_labels(label_paths: Sequence[str],
                                raw_paths: Sequence[str],
                                conf_paths: Sequence[str],
                                num_classes: int,
                                portion: float,
                                max_threshold: float = 1.0,
                                class_names: Optional[Sequence[str]] = None,
                                ignore_index: int = 255) -> dict:
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
    for raw, conf in zip(raw_paths, conf_paths):
        for path in (raw, conf):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'class-balanced selection: {path} is missing (pass 1 '
                    'writes a raw label and a confidence map per image; '
                    'rerun the generation to complete them)')
    hist = np.zeros((num_classes, 256), dtype=np.int64)
    for raw, conf in zip(raw_paths, conf_paths):
        label, level = _read_png(raw), _read_png(conf)
        if label.shape != level.shape:
            raise ValueError(f'{raw} {label.shape} and {conf} {level.shape} '
                             'differ in size')
        confidence_histograms(label, level, num_classes, out=hist)
    thresholds = class_balanced_thresholds(hist, portion, max_threshold)
    for out, raw, conf in zip(label_paths, raw_paths, conf_paths):
        write_label_png(
            apply_thresholds(_read_png(raw), _read_png(conf), thresholds,
                             ignore_index), out)
    summary = selection_summary(hist, thresholds, class_names)
    summary.update(
        class_portion=float(portion),
        max_threshold=float(max_threshold),
        thresholds=[None if np.isnan(t) else float(t) for t in thresholds])
    return summary


def _atomic_json(obj: dict, path: str) -> None:
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def generate_pseudo_labels(model: torch.nn.Module,
                           dataset,
                           out_dir: str,
                           fusion: str = 'prob',
                           tta: bool = False,
                           scales: Sequence[float] = (1.0, 0.75),
                           rank: Optional[int] = None,
                           world_size: Optional[int] = None,
                           meta: Optional[dict] = None,
                           progress: bool = True,
                           class_portion: Optional[float] = None,
                           max_threshold: float = 1.0) -> Dict[str, int]:
    """Write one pseudo-label PNG per image of ``dataset`` under ``out_dir``.

    Naming: :func:`~mmseg_uda.datasets.pseudo_label_path` (the image path
    relative to the dataset's image folder, image suffix replaced by
    ``.png``). Resumable: images whose PNG exists are skipped without being
    loaded (PNGs are written atomically, so an existing one is complete).
    Distributed: rank ``r`` of ``W`` handles indices ``r, r + W, ...``; after
    a barrier rank 0 writes ``out_dir/meta.json``.

    Args:
        model (nn.Module): Stage-I model (``UDASegmentor`` or mmseg
            segmentor) in eval mode, on its device.
        dataset (BaseSegDataset): The target training set with the
            inference pipeline (:func:`build_target_dataset`).
        out_dir (str): Output folder.
        fusion (str): ``'prob'`` (paper, default) or ``'logit'`` (release).
        tta (bool): Average the views ``scales`` x {identity, h-flip}.
            Without it: one view, scale 1, no flip.
        scales (Sequence[float]): Scales of the TTA views.
        rank (int, optional): This process's rank (default: mmengine's).
        world_size (int, optional): Number of processes (default:
            mmengine's).
        meta (dict, optional): Extra entries of ``meta.json`` (config,
            checkpoint, ...).
        progress (bool): Show a progress bar on rank 0.
        class_portion (float, optional): CBST class-balanced selection
            (see the module docstring): keep the ``class_portion`` most
            confident pixels of every class, in (0, 1]. Then pass 1 writes
            ``out_dir/raw/<rel>.png`` (argmax) and ``out_dir/conf/<rel>.png``
            (confidence, 8-bit) and resumes on images whose pair exists;
            pass 2 (rank 0, after a barrier) always rewrites
            ``out_dir/<rel>.png`` (:func:`write_class_balanced_labels`).
            None (default): unfiltered argmax labels, no raw / conf files.
        max_threshold (float): Cap in (0, 1] of the CBST thresholds
            (default 1.0: none). Only with ``class_portion``.

    Returns:
        dict: ``written`` and ``skipped`` counts of this rank, ``assigned``
        (indices of this rank) and ``total`` (images of the dataset); with
        ``class_portion``, on rank 0, also ``selection`` (the summary of
        :func:`write_class_balanced_labels`).
    """
    if fusion not in FUSIONS:
        raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
    balanced = class_portion is not None
    if balanced:
        check_portion(class_portion, max_threshold)
    elif max_threshold != 1.0:
        raise ValueError('max_threshold only applies with class_portion')
    _check_previous_mode(out_dir, balanced)
    dist_rank, dist_world = get_dist_info()
    rank = dist_rank if rank is None else rank
    world_size = dist_world if world_size is None else world_size
    num_classes = getattr(
        _split_model(model)[0].decode_head, 'num_classes', None)
    if num_classes is not None and num_classes > 255:
        raise ValueError(f'{num_classes} classes do not fit 8-bit PNGs with '
                         'the ignore index 255')
    img_dir, img_suffix = image_dir_and_suffix(dataset)
    paths = [
        pseudo_label_path(
            dataset.get_data_info(i)['img_path'], img_dir, out_dir, img_suffix)
        for i in range(len(dataset))
    ]
    if len(set(paths)) != len(paths):
        raise ValueError('several images map to the same pseudo-label file; '
                         f'check img_suffix of {type(dataset).__name__}')
    view_scales = tuple(scales) if tta else (1.0, )
    classes = list(dataset.metainfo.get('classes') or [])
    if balanced:
        raw_paths, conf_paths = [[
            pseudo_label_path(
                dataset.get_data_info(i)['img_path'], img_dir,
                osp.join(out_dir, sub), img_suffix)
            for i in range(len(dataset))
        ] for sub in (RAW_DIR, CONF_DIR)]
        reserved = tuple(
            osp.join(osp.abspath(out_dir), sub) + osp.sep
            for sub in (RAW_DIR, CONF_DIR))
        clash = [p for p in paths if osp.abspath(p).startswith(reserved)]
        if clash:
            raise ValueError(
                f'pseudo label {clash[0]} would lie in the {RAW_DIR}/ or '
                f'{CONF_DIR}/ folder of the class-balanced mode')
        if num_classes is None:
            num_classes = len(classes)
        if not num_classes:
            raise ValueError('class-balanced selection needs the number of '
                             'classes (decode_head.num_classes or the '
                             "dataset's classes)")

    indices = list(range(rank, len(dataset), world_size))
    bar = ProgressBar(len(indices)) if progress and rank == 0 else None
    written = skipped = 0
    for idx in indices:
        path = paths[idx]
        if (osp.exists(raw_paths[idx]) and osp.exists(conf_paths[idx])
                if balanced else osp.exists(path)):
            skipped += 1
        else:
            sample = dataset.prepare_data(idx)
            if sample is None:
                raise RuntimeError(f'the pipeline returned None for '
                                   f"{dataset.get_data_info(idx)['img_path']}")
            probs = pseudo_label_probs(
                model,
                pseudo_collate([sample]),
                fusion=fusion,
                scales=view_scales,
                flip=tta)
            if balanced:
                conf, label = probs.max(0)
                write_label_png(label.cpu().numpy(), raw_paths[idx])
                write_label_png(
                    quantize_confidence(conf.cpu().numpy()), conf_paths[idx])
            else:
                write_label_png(probs.argmax(0).cpu().numpy(), path)
            written += 1
        if bar is not None:
            bar.update()
    if bar is not None:
        print()  # end the progress bar line

    if world_size > 1:
        barrier()
    selection = None
    if rank == 0:
        if balanced:
            selection = write_class_balanced_labels(
                paths, raw_paths, conf_paths, num_classes, class_portion,
                max_threshold, classes)
            print_log(
                f'class-balanced selection (CBST, portion {class_portion}, '
                f'max threshold {max_threshold}):\n' +
                format_summary(selection),
                logger='current')
        count = sum(osp.exists(p) for p in paths)
        info = dict(meta or {})
        info.update(
            fusion=fusion,
            tta=tta,
            scales=list(view_scales),
            flip=tta,
            classes=classes,
            img_dir=img_dir,
            naming='image path relative to img_dir, img_suffix '
            f'{img_suffix!r} replaced by .png',
            num_images=len(dataset),
            count=count)
        if balanced:
            info.update(
                class_portion=selection['class_portion'],
                max_threshold=selection['max_threshold'],
                raw_dir=RAW_DIR,
                conf_dir=CONF_DIR,
                confidence='fused probability of the argmax class, '
                'round(255 * conf)',
                class_balance=selection)
        os.makedirs(out_dir, exist_ok=True)
        _atomic_json(info, osp.join(out_dir, PSEUDO_LABEL_META))
        print_log(
            f'pseudo labels: {count} of {len(dataset)} in {out_dir} (this '
            f'process wrote {written}, skipped {skipped} existing)',
            logger='current')
    if balanced and world_size > 1:
        barrier()  # every rank returns once the filtered labels exist
    result = dict(
        written=written,
        skipped=skipped,
        assigned=len(indices),
        total=len(dataset))
    if selection is not None:
        result['selection'] = selection
    return result


def _check_previous_mode(out_dir: str, balanced: bool) -> None:
    """Refuse to resume unfiltered generation in a class-balanced folder
    (its existing, filtered PNGs would be skipped as if unfiltered)."""
    path = osp.join(out_dir, PSEUDO_LABEL_META)
    if balanced or not osp.isfile(path):
        return
    try:
        with open(path) as f:
            previous = json.load(f).get('class_portion')
    except (OSError, ValueError):
        return
    if previous is not None:
        raise ValueError(
            f'{out_dir} holds class-balanced pseudo labels (class portion '
            f'{previous} in {path}); unfiltered labels would skip them as '
            'existing: pass the class portion again or use another folder')
