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
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch import Tensor

from mmseg.registry import DATASETS, MODELS
from ..models.uda.student_outputs import forward_heads
from .pseudo_label_selection import check_portion, format_summary
from .pseudo_label_writer import (CONF_DIR, RAW_DIR, PseudoLabelWriter,
                                  weights_sha256)

#: Transforms that load labels; dropped from the test pipeline.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadMappedAnnotations',
                      'LoadDepthAnnotation', 'LoadBiomedicalAnnotation')
FUSIONS = ('prob', 'logit')


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
                           max_threshold: float = 1.0,
                           overwrite: bool = False) -> Dict[str, int]:
    """Write one pseudo-label PNG per image of ``dataset`` under ``out_dir``.

    Files, resumption and ``meta.json``: :class:`PseudoLabelWriter` (an
    image whose PNG exists and decodes is skipped; a folder made with other
    settings is refused unless ``overwrite``). Distributed: rank ``r`` of
    ``W`` handles indices ``r, r + W, ...``; after a barrier rank 0 completes
    ``out_dir/meta.json``.

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
            checkpoint, dataset_key, cfg_options: compared on resume).
        progress (bool): Show a progress bar on rank 0.
        class_portion (float, optional): CBST class-balanced selection
            (see the module docstring): keep the ``class_portion`` most
            confident pixels of every class, in (0, 1]. None (default):
            unfiltered argmax labels, no raw / conf files.
        max_threshold (float): Cap in (0, 1] of the CBST thresholds
            (default 1.0: none). Only with ``class_portion``.
        overwrite (bool): Delete the set's existing labels and regenerate
            them all, whatever the folder's record says.

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
    dist_rank, dist_world = get_dist_info()
    rank = dist_rank if rank is None else rank
    world_size = dist_world if world_size is None else world_size
    segmentor = _split_model(model)[0]
    num_classes = _num_classes(segmentor, dataset, balanced)
    writer = PseudoLabelWriter(out_dir, dataset, balanced)
    view_scales = tuple(scales) if tta else (1.0, )
    classes = list(dataset.metainfo.get('classes') or [])
    settings = dict(
        {k: None for k in ('config', 'checkpoint', 'cfg_options',
                           'dataset_key')},
        **(meta or {}),
        weights_sha256=weights_sha256(segmentor),
        fusion=fusion,
        fuse_weight=float(
            getattr(segmentor.decode_head, 'fuse_weight', 0.5)),
        tta=tta,
        scales=list(view_scales),
        flip=tta,
        class_balanced=balanced,
        classes=classes)
    info = dict(
        settings,
        img_dir=writer.img_dir,
        naming='image path relative to img_dir, img_suffix '
        f'{writer.img_suffix!r} replaced by .png',
        num_images=len(dataset))
    if balanced:
        info.update(raw_dir=RAW_DIR, conf_dir=CONF_DIR,
                    confidence='fused probability of the argmax class, '
                    'round(255 * conf)')
    writer.prepare(settings, info, rank if dist_world > 1 else 0, overwrite)

    indices = list(range(rank, len(dataset), world_size))
    bar = ProgressBar(len(indices)) if progress and rank == 0 else None
    written = skipped = 0
    for idx in indices:
        if writer.is_done(idx):
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
            writer.write(writer.img_paths[idx], probs)
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
            selection = writer.write_selected(num_classes, class_portion,
                                              max_threshold, classes)
            print_log(
                f'class-balanced selection (CBST, portion {class_portion}, '
                f'max threshold {max_threshold}):\n' +
                format_summary(selection),
                logger='current')
            info.update(
                class_portion=selection['class_portion'],
                max_threshold=selection['max_threshold'],
                class_balance=selection)
        count = writer.finish(info)
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


def _num_classes(segmentor, dataset, balanced: bool) -> Optional[int]:
    """Number of classes of the head (or the dataset); checked to fit 8-bit
    PNGs, required for the class-balanced selection."""
    num_classes = getattr(segmentor.decode_head, 'num_classes', None)
    if num_classes is not None and num_classes > 255:
        raise ValueError(f'{num_classes} classes do not fit 8-bit PNGs with '
                         'the ignore index 255')
    if num_classes is None:
        num_classes = len(dataset.metainfo.get('classes') or [])
    if balanced and not num_classes:
        raise ValueError('class-balanced selection needs the number of '
                         'classes (decode_head.num_classes or the '
                         "dataset's classes)")
    return num_classes
