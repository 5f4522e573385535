# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Offline pseudo labels for self-training (MRNet stage II).

MRNet (Zheng & Yang, IJCAI 2020, Sec. 3.3) predicts, once, a pseudo label
for every target training image with the stage-I model,

.. math::
    \\hat{y} = \\arg\\max_c \\big(\\sigma(z_p) + 0.5\\, \\sigma(z_a)\\big)_c

(:math:`\\sigma` the softmax over classes, :math:`z_p` / :math:`z_a` the
primary / auxiliary logits), and then fine-tunes on the target domain only.
``tools/gen_pseudo_labels.py`` is the command-line front end and
:class:`~mmseg_uda.datasets.PseudoLabelDataset` reads the result. The parts:

- the model: :func:`init_model` builds the predicting network with mmseg's
  ``init_model`` (the student of a ``UDASegmentor``; ``fusion`` sets its
  head's ``fuse_mode``) and loads its weights from the checkpoint;
- the data: the target training set (:func:`target_dataset_cfg`) through
  the config's *test* pipeline without annotation loading
  (:func:`inference_pipeline`: load, resize to the model input, pack),
  iterated by a test data loader over the images still to do;
  with TTA (:func:`tta_transform`) mmcv's ``TestTimeAug`` makes the views
  ``scales`` x {identity, horizontal flip} of the resized image;
- the prediction (:mod:`~mmseg_uda.apis.pseudo_label_predictor`): the fused
  probabilities of each view at the original image size, averaged over the
  views by mmseg's TTA model; the pseudo label is their argmax (no
  confidence threshold: neither paper nor release uses one);
- the files (:class:`~mmseg_uda.apis.PseudoLabelWriter`): PNGs, resumption
  and ``meta.json``.

Optionally (``class_portion``), the labels are filtered by the class-balanced
selection of CBST (Zou et al., ECCV 2018), whose class balance policy MRNet
stage II adopts (:mod:`~mmseg_uda.apis.pseudo_label_selection`): pass 1
writes the unfiltered argmax label to ``DIR/raw/<rel>.png`` and the
confidence of the argmax class (the fused probability, in [0, 1]; 8-bit,
``round(255 conf)``) to ``DIR/conf/<rel>.png``; pass 2 (rank 0) computes
per-class thresholds from the confidence histograms of the whole set and
writes ``DIR/<rel>.png`` with the pixels below the threshold of their class
set to 255 (:func:`~mmseg_uda.apis.write_class_balanced_labels`).
"""
import copy
import re
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from mmengine.utils import ProgressBar
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mmseg.registry import DATASETS, TRANSFORMS
from .pseudo_label_predictor import (PseudoLabelPredictor,
                                     PseudoLabelTTAModel, split_model)
from .pseudo_label_selection import check_portion, format_summary
from .pseudo_label_writer import (CONF_DIR, RAW_DIR, PseudoLabelWriter,
                                  weights_sha256)

#: Transforms that load labels; dropped from the test pipeline.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadMappedAnnotations',
                      'LoadDepthAnnotation', 'LoadBiomedicalAnnotation')
FUSIONS = ('prob', 'logit')
#: Scales of the TTA views when none are given.
DEFAULT_TTA_SCALES = (1.0, 0.75)


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
            transform (pseudo labels must be deterministic; the views of
            ``tta`` are added by :func:`tta_transform`), or does not end
            with ``PackSegInputs``.
    """
    pipeline = []
    for t in test_pipeline:
        name = _type_name(t)
        if name in ANNOTATION_LOADERS:
            continue
        if name.startswith('Random') or name == 'TestTimeAug':
            raise ValueError(
                f'the test pipeline holds {name}; pseudo labels need a '
                'deterministic pipeline (load, resize, pack); use --tta /'
                ' --scales for flip / multi-scale averaging')
        pipeline.append(copy.deepcopy(t))
    if not pipeline or _type_name(pipeline[-1]) != 'PackSegInputs':
        raise ValueError('the test pipeline must end with PackSegInputs, got '
                         f'{[_type_name(t) for t in test_pipeline]}')
    return pipeline


def _train_target_cfg(cfg: Config, dataset_key: str):
    try:
        ds_cfg = cfg.train_dataloader.dataset
    except AttributeError:
        raise KeyError('the config has no train_dataloader.dataset; pseudo '
                       'labels are made for its target training set')
    if dataset_key in ds_cfg:
        return ds_cfg[dataset_key]
    if ds_cfg.get('type') == 'UDADataset':
        raise KeyError(f'train_dataloader.dataset (UDADataset) has no key '
                       f'{dataset_key!r}; pass --dataset-key')
    if ds_cfg.get('type') == 'PseudoLabelDataset':
        return ds_cfg['dataset']
    return ds_cfg


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
    ds_cfg = _train_target_cfg(cfg, dataset_key)
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
    """Build :func:`target_dataset_cfg` (fully initialised).

    Args:
        cfg (Config): A training config.
        dataset_key (str): Key of the target set in a UDA dataset config.
    """
    dataset = DATASETS.build(target_dataset_cfg(cfg, dataset_key))
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def student_config(cfg: Config, fusion: Optional[str] = None) -> Config:
    """An mmseg config whose ``model`` is the network that predicts.

    For a ``UDASegmentor`` that is its student ``segmentor`` with the UDA
    model's data preprocessor; otherwise ``cfg.model`` itself.

    Args:
        cfg (Config): The stage-I training config.
        fusion (str, optional): ``fuse_mode`` of the decode head (``'prob'``
            paper, ``'logit'`` release); None keeps the config's.
    """
    model = copy.deepcopy(cfg.model)
    if 'segmentor' in model:
        student = model['segmentor']
        student['data_preprocessor'] = model.get('data_preprocessor')
        model = student
    if fusion is not None:
        if fusion not in FUSIONS:
            raise ValueError(
                f'fusion must be one of {FUSIONS}, got {fusion!r}')
        model['decode_head']['fuse_mode'] = fusion
    return Config(dict(model=model,
                       default_scope=cfg.get('default_scope', 'mmseg')))


def init_model(cfg: Config,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               fusion: Optional[str] = None) -> torch.nn.Module:
    """The predicting network of a stage-I model, in eval mode.

    Built by mmseg's ``init_model`` from :func:`student_config` (backbone
    ``init_cfg`` dropped: the weights come from the checkpoint). The
    checkpoint's ``segmentor.*`` entries (a ``UDASegmentor`` checkpoint) or
    all its entries (an mmseg one) are loaded strictly: a checkpoint without
    the network's weights is an error, discriminators and teacher are
    ignored. SyncBN layers are reverted to BN (inference, one process each).

    Args:
        cfg (Config): The stage-I training config.
        checkpoint (str, optional): Checkpoint path.
        device (str): Device. Defaults to 'cpu'.
        fusion (str, optional): See :func:`student_config`.
    """
    from mmseg.apis import init_model as mmseg_init_model
    model = mmseg_init_model(student_config(cfg, fusion), None, device='cpu')
    if checkpoint is not None:
        state = _load_checkpoint(checkpoint, map_location='cpu')
        state = state.get('state_dict', state)
        if 'segmentor' in cfg.model:
            state = {
                k[len('segmentor.'):]: v
                for k, v in state.items() if k.startswith('segmentor.')
            }
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
        try:
            load_state_dict(model, state, strict=True)
        except RuntimeError as err:
            raise RuntimeError(f'{checkpoint} does not hold the weights of '
                               f'the config\'s model: {err}') from None
    return revert_sync_batchnorm(model).to(device).eval()


def tta_transform(pack, scales: Sequence[float], flip: bool = True) -> dict:
    """mmcv ``TestTimeAug`` config of the views ``scales`` x {identity,
    horizontal flip}, replacing the final ``PackSegInputs``.

    Each view rescales the (already model-sized) image by ``s`` (``Resize``
    with ``scale_factor``, bilinear), then flips it or not, then packs.

    Args:
        pack (dict | callable): The pipeline's final ``PackSegInputs``
            (config or built transform).
        scales (Sequence[float]): Positive scales.
        flip (bool): Add the flipped view of every scale.
    """
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f'scales must be positive, got {list(scales)}')
    flips = [dict(type='RandomFlip', prob=p, direction='horizontal')
             for p in ((0., 1.) if flip else (0., ))]
    return dict(
        type='TestTimeAug',
        transforms=[[
            dict(type='Resize', scale_factor=float(s), keep_ratio=False)
            for s in scales
        ], flips, [copy.deepcopy(pack)]])


class TargetImages(Dataset):
    """Images ``indices`` of the target set through its pipeline, or through
    a TTA pipeline (its pipeline with the final pack replaced by
    :func:`tta_transform`).

    Args:
        dataset (BaseSegDataset): The target set (inference pipeline).
        indices (Sequence[int]): Images to load.
        tta (dict, optional): ``TestTimeAug`` config; None: one view.
    """

    def __init__(self, dataset, indices: Sequence[int],
                 tta: Optional[dict] = None):
        self.dataset = dataset
        self.indices = list(indices)
        self.views = None if tta is None else TRANSFORMS.build(tta)

    def _load(self, idx: int) -> Optional[dict]:
        if self.views is None:
            return self.dataset.prepare_data(idx)
        results = self.dataset.get_data_info(idx)
        for t in self.dataset.pipeline.transforms[:-1]:
            results = t(results)
            if results is None:
                return None
        return self.views(results)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        idx = self.indices[i]
        sample = self._load(idx)
        if sample is None:
            path = self.dataset.get_data_info(idx)['img_path']
            raise RuntimeError(f'the pipeline returned None for {path}')
        return sample


def predictor(model: torch.nn.Module, tta: bool = False) -> Callable:
    """``test_step`` of :class:`PseudoLabelPredictor` (one view) or of
    :class:`PseudoLabelTTAModel` over it (a batch of ``TestTimeAug`` views).

    Args:
        model (nn.Module): The stage-I model in eval mode.
        tta (bool): Whether the batches hold TTA views.
    """
    one_view = PseudoLabelPredictor(model).eval()
    return PseudoLabelTTAModel(one_view).test_step if tta else \
        one_view.test_step


@torch.no_grad()
def pseudo_label_probs(model: torch.nn.Module,
                       data: dict,
                       tta: bool = False) -> Tensor:
    """Fused class probabilities of one image at its original size.

    Args:
        model (nn.Module): A ``UDASegmentor`` or an mmseg segmentor, in eval
            mode.
        data (dict): One collated sample (``pseudo_collate([sample])``) of
            the inference pipeline, or of :class:`TargetImages` with TTA.
        tta (bool): ``data`` holds ``TestTimeAug`` views.

    Returns:
        Tensor: Probabilities (C, H0, W0), (H0, W0) = ``ori_shape``.
    """
    return predictor(model, tta)(data)[0].seg_logits.data


def _settings(model, dataset, meta, tta, scales, balanced) -> dict:
    """The :data:`~mmseg_uda.apis.pseudo_label_writer.SETTINGS` of a run.

    Args:
        model (nn.Module): The stage-I model (weights fingerprint, fusion).
        dataset (BaseSegDataset): The target set (classes).
        meta (dict, optional): The caller's entries (config, checkpoint...).
        tta (bool): Whether views are averaged.
        scales (Sequence[float]): Scales of the views.
        balanced (bool): CBST mode.
    """
    segmentor = split_model(model)[0]
    head = segmentor.decode_head
    settings = dict(config=None, checkpoint=None, cfg_options=None,
                    dataset_key=None)
    settings.update(meta or {})
    settings.update(
        weights_sha256=weights_sha256(segmentor),
        fusion=getattr(head, 'fuse_mode', None) if hasattr(head, 'fuse')
        else None,
        fuse_weight=getattr(head, 'fuse_weight', None),
        tta=tta,
        scales=[float(s) for s in scales] if tta else [1.0],
        flip=tta,
        class_balanced=balanced,
        classes=list(dataset.metainfo.get('classes') or []))
    return settings


def _record(settings: dict, writer: PseudoLabelWriter, num_images: int):
    """``meta.json`` content: the settings and how to read the folder.

    Args:
        settings (dict): :func:`_settings`.
        writer (PseudoLabelWriter): The folder's writer.
        num_images (int): Images of the target set.
    """
    info = dict(
        settings,
        img_dir=writer.img_dir,
        naming='image path relative to img_dir, img_suffix '
        f'{writer.img_suffix!r} replaced by .png',
        num_images=num_images)
    if writer.class_balanced:
        info.update(raw_dir=RAW_DIR, conf_dir=CONF_DIR,
                    confidence='fused probability of the argmax class, '
                    'round(255 * conf)')
    return info


def _num_classes(segmentor, dataset, balanced: bool) -> Optional[int]:
    """Number of classes of the head (or the dataset); checked to fit 8-bit
    PNGs, required for the class-balanced selection.

    Args:
        segmentor (nn.Module): The predicting network.
        dataset (BaseSegDataset): The target set.
        balanced (bool): CBST mode.
    """
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


@torch.no_grad()
def _predict_and_write(model, dataset, writer: PseudoLabelWriter,
                       todo: List[int], tta: Optional[dict],
                       num_workers: int, bar) -> None:
    """Test loop: load ``todo`` with a data loader, predict, write.

    Args:
        model (nn.Module): The stage-I model.
        dataset (BaseSegDataset): The target set.
        writer (PseudoLabelWriter): Writes each prediction.
        todo (list[int]): Indices to predict.
        tta (dict, optional): :func:`tta_transform` config, or None.
        num_workers (int): Loader worker processes.
        bar (ProgressBar, optional): Updated per image.
    """
    loader = DataLoader(
        TargetImages(dataset, todo, tta),
        batch_size=1,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=pseudo_collate)
    predict = predictor(model, tta is not None)
    for data in loader:
        for sample in predict(data):
            writer.write(sample.img_path, sample.seg_logits.data)
            if bar is not None:
                bar.update()
    if bar is not None:
        print()  # end the progress bar line


def _select(writer, num_classes, class_portion, max_threshold, info):
    """CBST pass 2 (rank 0); adds the selection to the record.

    Args:
        writer (PseudoLabelWriter): The folder's writer.
        num_classes (int): Number of classes.
        class_portion (float): CBST portion.
        max_threshold (float): Cap of the thresholds.
        info (dict): The record, updated in place.
    """
    selection = writer.write_selected(num_classes, class_portion,
                                      max_threshold, info['classes'])
    print_log(
        f'class-balanced selection (CBST, portion {class_portion}, max '
        f'threshold {max_threshold}):\n' + format_summary(selection),
        logger='current')
    info.update(
        class_portion=selection['class_portion'],
        max_threshold=selection['max_threshold'],
        class_balance=selection)
    return selection


def generate_pseudo_labels(model: torch.nn.Module,
                           dataset,
                           out_dir: str,
                           tta: bool = False,
                           scales: Sequence[float] = DEFAULT_TTA_SCALES,
                           rank: Optional[int] = None,
                           world_size: Optional[int] = None,
                           meta: Optional[dict] = None,
                           progress: bool = True,
                           class_portion: Optional[float] = None,
                           max_threshold: float = 1.0,
                           overwrite: bool = False,
                           num_workers: int = 0) -> Dict[str, int]:
    """Write one pseudo-label PNG per image of ``dataset`` under ``out_dir``.

    Files, resumption and ``meta.json``: :class:`PseudoLabelWriter` (an
    image whose PNG exists and decodes is skipped without being loaded; a
    folder made with other settings is refused unless ``overwrite``).
    Distributed: rank ``r`` of ``W`` handles indices ``r, r + W, ...``;
    after a barrier rank 0 completes ``out_dir/meta.json``. The fusion is the
    model's (its head's ``fuse_mode``, see :func:`init_model`).

    Args:
        model (nn.Module): Stage-I model (``UDASegmentor`` or mmseg
            segmentor) in eval mode, on its device.
        dataset (BaseSegDataset): The target training set with the
            inference pipeline (:func:`build_target_dataset`).
        out_dir (str): Output folder.
        tta (bool): Average the views ``scales`` x {identity, h-flip}.
            Without it: one view, scale 1, no flip.
        scales (Sequence[float]): Scales of the TTA views.
        rank (int, optional): This process's rank (default: mmengine's).
        world_size (int, optional): Number of processes (default:
            mmengine's).
        meta (dict, optional): ``meta.json`` entries of the caller (config,
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
        num_workers (int): Data-loading worker processes.

    Returns:
        dict: ``written`` and ``skipped`` counts of this rank, ``assigned``
        (indices of this rank) and ``total`` (images of the dataset); with
        ``class_portion``, on rank 0, also ``selection`` (the CBST summary).
    """
    balanced = class_portion is not None
    if balanced:
        check_portion(class_portion, max_threshold)
    elif max_threshold != 1.0:
        raise ValueError('max_threshold only applies with class_portion')
    dist_rank, dist_world = get_dist_info()
    rank = dist_rank if rank is None else rank
    world_size = dist_world if world_size is None else world_size
    num_classes = _num_classes(split_model(model)[0], dataset, balanced)
    writer = PseudoLabelWriter(out_dir, dataset, balanced)
    settings = _settings(model, dataset, meta, tta, scales, balanced)
    info = _record(settings, writer, len(dataset))
    # without a process group every simulated rank records its run
    writer.prepare(settings, info, rank if dist_world > 1 else 0, overwrite)

    indices = list(range(rank, len(dataset), world_size))
    todo = [i for i in indices if overwrite or not writer.is_done(i)]
    tta_cfg = tta_transform(dataset.pipeline.transforms[-1],
                            scales) if tta else None
    bar = ProgressBar(len(todo)) if progress and rank == 0 and todo else None
    _predict_and_write(model, dataset, writer, todo, tta_cfg, num_workers,
                       bar)
    if world_size > 1:
        barrier()
    result = dict(written=len(todo), skipped=len(indices) - len(todo),
                  assigned=len(indices), total=len(dataset))
    if rank == 0:
        _finish(writer, info, result, num_classes, class_portion,
                max_threshold)
    if balanced and world_size > 1:
        barrier()  # every rank returns once the filtered labels exist
    return result


def _finish(writer: PseudoLabelWriter, info: dict, result: dict,
            num_classes: int, class_portion: Optional[float],
            max_threshold: float) -> None:
    """Rank 0 after every rank's pass 1: CBST pass 2 (adds ``selection``
    to ``result``), the complete record, a summary line.

    Args:
        writer (PseudoLabelWriter): The folder's writer.
        info (dict): The record.
        result (dict): This rank's counts (updated in place).
        num_classes (int): Number of classes.
        class_portion (float, optional): CBST portion; None: no selection.
        max_threshold (float): Cap of the thresholds.
    """
    if class_portion is not None:
        result['selection'] = _select(writer, num_classes, class_portion,
                                      max_threshold, info)
    count = writer.finish(info)
    print_log(
        f"pseudo labels: {count} of {result['total']} in {writer.out_dir} "
        f"(this process wrote {result['written']}, skipped "
        f"{result['skipped']} existing)",
        logger='current')
