"""Debug data of a UDA step: pseudo-label statistics and the snapshot
drawn by ``UDAVisualizationHook``.

Nothing here runs unless the hook switches ``UDASegmentor.pl_stats`` /
``UDASegmentor.keep_debug`` on; the labels of the target set, when loaded,
are used for monitoring only, never for training.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from ..models.sac.multi_crop_views import warp_views
from ..models.sac.view_fusion import invert_affine
from ..models.uda.student_outputs import forward_heads, fused_probabilities


def monitor_step(model: nn.Module, data: dict, targets: Optional[dict],
                 it: int) -> Dict[str, Tensor]:
    """The monitoring of one training step of a ``UDASegmentor``, after its
    updates.

    With ``model.pl_stats`` (and self-training targets) it returns the
    pseudo-label statistics (``model.pseudo_label_stats``); with
    ``model.keep_debug`` it stores ``model.last_debug``
    (``model.collect_debug``). The SAC view geometry comes with the
    targets (``targets['view_to_image']``, see
    ``AugmentationConsistency.make_targets``). Otherwise a no-op.

    Args:
        model (UDASegmentor): The model of the step.
        data (dict): The preprocessed batch.
        targets (dict, optional): Self-training targets of the step.
        it (int): The iteration.

    Returns:
        dict[str, Tensor]: Statistics to log (empty unless ``pl_stats``).
    """
    logs = {}
    to_image = None if targets is None else targets.get('view_to_image')
    if model.pl_stats and targets is not None:
        logs.update(model.pseudo_label_stats(
            targets, to_image, data.get('target_data_samples')))
    if model.keep_debug:
        model.last_debug = model.collect_debug(data, targets, to_image, it)
    return logs


def class_keys(class_names: Optional[Sequence[str]],
               num_classes: int) -> List[str]:
    """Log-key names of the classes (spaces become ``_``), else indices."""
    if class_names is None or len(class_names) != num_classes:
        return [str(c) for c in range(num_classes)]
    return [str(n).replace(' ', '_') for n in class_names]


def target_gt(samples: Optional[list]) -> Optional[Tensor]:
    """(B, H, W) target labels when every target sample has some."""
    if not samples or not all('gt_sem_seg' in s for s in samples):
        return None
    return torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()


@torch.no_grad()
def pseudo_label_stats(targets: Dict[str, Tensor],
                       num_classes: int,
                       class_names: Optional[Sequence[str]] = None,
                       to_image: Optional[Tensor] = None,
                       target_samples: Optional[list] = None
                       ) -> Dict[str, Tensor]:
    """Per-class coverage and accuracy of this step's pseudo labels.

    - ``pl_coverage.<class>``: the share of all target pixels (every
      view of every image) pseudo-labelled as ``<class>``; the shares
      sum to ``pl_coverage``, the labelled fraction. One ``bincount``.
    - ``pl_accuracy`` (only when the target samples carry
      ``gt_sem_seg``, i.e. the target train set is loaded with labels
      for monitoring, and the view geometry is known): the fraction of
      pseudo-labelled pixels whose label equals the ground truth warped
      into the view (nearest), over pixels with a valid ground truth.
      The labels are never used for training.

    Args:
        targets (dict): From ``make_targets``, with ``labels``
            (B*V, h, w), ``ignore_index`` marking unlabelled pixels.
        num_classes (int): Number of classes.
        class_names (Sequence[str], optional): Names for the log keys
            (see :func:`class_keys`).
        to_image (Tensor, optional): View-to-image affines (B, V, 2, 3).
        target_samples (list, optional): Target data samples.

    Returns:
        dict[str, Tensor]: Scalars to log.
    """
    labels = targets['labels']
    C = num_classes
    valid = (labels >= 0) & (labels < C)
    counts = torch.bincount(
        torch.where(valid, labels, C).flatten(), minlength=C + 1)[:C]
    share = counts.float() / max(labels.numel(), 1)
    logs = {
        f'pl_coverage.{name}': share[c]
        for c, name in enumerate(class_keys(class_names, C))
    }
    gt = target_gt(target_samples)
    if gt is not None and to_image is not None:
        gt_views = warp_views(
            gt[:, None].float().to(labels.device), to_image,
            out_size=tuple(labels.shape[-2:]), mode='nearest',
            padding_mode='border').squeeze(1).long()
        selected = valid & (gt_views >= 0) & (gt_views < C)
        num = selected.sum()
        if int(num) > 0:
            logs['pl_accuracy'] = (
                (labels == gt_views) & selected).sum().float() / num
    return logs


def denormalised(image: Tensor, data_preprocessor) -> np.ndarray:
    """A normalised (3, H, W) input as an (H, W, 3) uint8 array, in the
    channel order of the model inputs (RGB with ``bgr_to_rgb``)."""
    mean = getattr(data_preprocessor, 'mean', None)
    std = getattr(data_preprocessor, 'std', None)
    image = image.detach().float()
    if mean is not None and std is not None and \
            getattr(data_preprocessor, '_enable_normalize', True):
        image = image * std.view(-1, 1, 1).to(image) + \
            mean.view(-1, 1, 1).to(image)
    return image.clamp(0, 255).round().byte().permute(1, 2,
                                                       0).cpu().numpy()


@torch.no_grad()
def eval_outputs(model: nn.Module, segmentor: nn.Module, inputs: Tensor,
                 align_corners: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Eval-mode (fused, aux) predictions of ``segmentor`` at input
    size; the train/eval modes of ``model`` are restored after."""
    was_training = model.training
    segmentor.eval()
    try:
        out = forward_heads(segmentor, inputs)
        size = inputs.shape[-2:]
        fused = fused_probabilities(segmentor, out, size).argmax(1)
        aux = None
        if out.aux is not None:
            aux = out.resized(size, align_corners)['aux'].argmax(1)
    finally:
        model.train(was_training)
    return fused, aux


@torch.no_grad()
def collect_debug(model: nn.Module, data: dict, targets: Optional[dict],
                  to_image: Optional[Tensor], it: int) -> Optional[dict]:
    """A small, detached snapshot of the first target image's step.

    Costs one eval-mode student forward (and one teacher forward) of a
    single image.

    Args:
        model (UDASegmentor): The model (student, teacher, self-training,
            data preprocessor).
        data (dict): The preprocessed batch.
        targets (dict, optional): Self-training targets of the step.
        to_image (Tensor, optional): View-to-image affines of SAC views.
        it (int): The iteration.

    Returns:
        dict | None: None without a target part, else CPU numpy arrays
        at the target input size: ``image`` (H, W, 3) uint8 (RGB with
        ``bgr_to_rgb``); ``student`` (H, W) int64, the student's
        eval-mode (fused) prediction; ``reference`` and
        ``reference_name``: the momentum teacher's prediction
        (``'teacher'``) or, without a teacher, the student's auxiliary
        head (``'aux head'``), or None; ``pseudo_labels``: the
        pseudo labels of the first (full) view warped back onto the
        image, ``ignore_index`` where unlabelled or outside, or None;
        ``gt``: target labels or None; plus ``iter``,
        ``ignore_index`` and ``num_classes``.
    """
    if 'target_inputs' not in data:
        return None
    inputs = data['target_inputs'][:1]
    size = tuple(inputs.shape[-2:])
    student, aux = eval_outputs(model, model.segmentor, inputs,
                                model.align_corners)
    reference, reference_name = aux, 'aux head'
    if model.teacher is not None:
        reference, _ = eval_outputs(model, model.teacher.module, inputs,
                                    model.align_corners)
        reference_name = 'teacher'
    ignore = int(getattr(getattr(model.self_training, 'pseudo_labeler',
                                 None), 'ignore_index', 255))
    pseudo = None
    if targets is not None and to_image is not None:
        # view 0 of image 0 back onto the image; +1 so that 0 = outside
        lab = targets['labels'][:1, None].float() + 1
        back = warp_views(
            lab, invert_affine(to_image[:1, :1]), out_size=size,
            mode='nearest', padding_mode='zeros')[0, 0].long() - 1
        pseudo = torch.where(back < 0, torch.full_like(back, ignore), back)
    gt = target_gt(data.get('target_data_samples', [])[:1])

    def host(x):
        return None if x is None else x.reshape(size).long().cpu().numpy()

    return dict(
        iter=it,
        image=denormalised(inputs[0], model.data_preprocessor),
        student=host(student[0]),
        reference=host(reference[0] if reference is not None else None),
        reference_name=reference_name if reference is not None else None,
        pseudo_labels=host(pseudo),
        gt=host(gt[0] if gt is not None else None),
        ignore_index=ignore,
        num_classes=model.num_classes)
