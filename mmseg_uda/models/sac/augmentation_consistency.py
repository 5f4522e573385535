"""SAC's target self-training: multi-view teacher targets, adaptive pseudo
labels and the focal confidence loss."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.dist import get_rank
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..uda.student_outputs import (HeadOutputs, forward_heads,
                                   fused_probabilities)
from ..uda.target_use import FORWARD
from .view_fusion import fuse_coarse_views, fuse_views

#: the pixel value of 1.0 in the unit range of the student noise
PIXEL_MAX = 255.


@MODELS.register_module()
class AugmentationConsistency(BaseModule):
    """Self-supervised augmentation consistency (Araslanov & Roth, CVPR 2021).

    For a batch of clean target images :math:`x`:

    1. :meth:`make_targets` (no gradient): build ``V`` views per image (the
       full image plus random aspect-preserving crops, random flips), run the
       momentum teacher on the clean views, warp its softmax maps back onto
       the full-image canvas and average each pixel over the views covering
       it, warp the fused map back to every view (at a reduced resolution
       by default, see ``fusion_upsample``); update the moving class
       prior :math:`\\chi` (Eq. 1-2) with the teacher's raw per-view
       softmax maps (before the fusion, at the fusion size; paper and
       release alike) and threshold the fused confidences with
       :math:`\\theta_c = \\zeta (1 - e^{-\\chi_c/\\beta}) m^*_c` (Eq. 3-4) into
       pseudo labels. The student's copies of the views get photometric
       noise.
    2. :meth:`loss`: the focal confidence-weighted loss (Eq. 6)
       :math:`-m_{c^*}(1-\\chi_{c^*})^{\\lambda}\\log p(c^*)` on the student's
       logits of the noisy views, times the target weight (5 for ResNet,
       2 for VGG), optionally ramped up linearly over ``rampup_iters``
       iterations (the release authors' advice against early loss spikes).

    Fusion resolution (``fusion_upsample``): the release upsamples the
    teacher logits to the view size and fuses the softmax maps there
    (``fusion_upsample=None``). By default the logits are upsampled by 2
    only (the factor that keeps the resolution of the smallest crops,
    ``scale_range[0] = 0.5``, on the canvas), the maps are fused at that
    size in corner-aligned coordinates (:func:`fuse_coarse_views`)
    and the fused per-view maps are upsampled bilinearly to the view size
    for the pseudo labels. Not the release's numbers exactly (the softmax
    comes before the last upsampling, and the crops' borders are blended
    over one fusion pixel), but 16x fewer pixels for the fusion at output
    stride 8. With the synthetic benchmark's ABN model as teacher (96
    target images, 4 views each) the pseudo labels keep their quality: the
    same accuracy on the selected pixels (82.0% vs 81.8% at full
    resolution) and of the fused argmax (61.3% vs 61.0%), 43.7% instead of
    45.2% of the pixels selected; 94% of the pixel labels are identical.

    Randomness (crops, flips, noise) comes from a generator seeded with
    ``(seed, iteration, rank)``, so a resumed run draws exactly the views the
    uninterrupted run would have drawn and every rank draws its own. The
    ``seed`` is the run's ``randomness.seed`` by default (``seed=None``):
    ``RunSeedHook`` hands ``runner.seed`` over before the first iteration
    (:meth:`set_run_seed`), so runs with different seeds draw different
    views and noise.

    Args:
        num_classes (int): Number of classes (filled in by ``UDASegmentor``).
        views (dict): ``MultiCropViews`` config.
        noise (dict): ``PhotometricNoise`` config (student only). Any noise
            module with ``apply_unit(x, generator)``, the noise of float RGB
            images in [0, 1] (pixel value / 255); the views are
            de-normalised with the data preprocessor's mean/std for it and
            normalised again afterwards (:meth:`noisy_views`).
        pseudo_labeler (dict): ``AdaptivePseudoLabeler`` config.
        loss (dict): ``FocalConfidenceLoss`` config; its ``loss_weight`` is
            the target loss weight.
        aux_weight (float): Weight of the same loss on the auxiliary head of
            a dual-head student (0 disables). Defaults to 0.5, like the
            source CE of MRNet's heads.
        rampup_iters (int): Linear ramp-up of the target weight; 0 = off.
        fusion_upsample (float, optional): Upsampling factor of the teacher
            logits for the multi-view fusion (at most the view size); None
            fuses at the view size (release). Defaults to 2.0.
        seed (int, optional): Base seed of the view and noise generator.
            None (default) follows the run's seed, set by ``RunSeedHook``
            (an error names the hook when it is missing); an int fixes the
            draws whatever the run's seed.
        init_cfg (dict, optional): Initialisation config.
    """

    #: its loss is computed on the student's logits of the target views
    #: (see ``models/uda/target_use.py``)
    target_use = FORWARD

    def __init__(self,
                 num_classes: int,
                 views: dict = dict(type='MultiCropViews', num_views=4),
                 noise: dict = dict(type='PhotometricNoise'),
                 pseudo_labeler: dict = dict(type='AdaptivePseudoLabeler'),
                 loss: dict = dict(type='FocalConfidenceLoss',
                                   focal_power=3.0, loss_weight=5.0),
                 aux_weight: float = 0.5,
                 rampup_iters: int = 0,
                 fusion_upsample: Optional[float] = 2.0,
                 seed: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if fusion_upsample is not None and fusion_upsample <= 0:
            raise ValueError('fusion_upsample must be > 0 or None, got '
                             f'{fusion_upsample}')
        self.views = MODELS.build(views)
        self.noise = MODELS.build(noise)
        if not callable(getattr(self.noise, 'apply_unit', None)):
            raise TypeError(
                f'AugmentationConsistency: the noise module '
                f'{type(self.noise).__name__} has no apply_unit(x, '
                'generator): the student noise works on float images in '
                '[0, 1] through that method (see PhotometricNoise.'
                'apply_unit in mmseg_uda/models/sac/photometric_noise.py)')
        self.pseudo_labeler = MODELS.build(
            pseudo_labeler, default_args=dict(num_classes=num_classes))
        self.loss_fn = MODELS.build(loss)
        self.aux_weight = aux_weight
        self.rampup_iters = rampup_iters
        self.fusion_upsample = fusion_upsample
        self.seed = seed
        self.run_seed: Optional[int] = None

    def set_run_seed(self, seed: int) -> None:
        """Take the run's seed (called by ``RunSeedHook``); used when the
        config leaves ``seed=None``."""
        self.run_seed = int(seed)

    def base_seed(self) -> int:
        """The configured ``seed``, else the run's seed."""
        if self.seed is not None:
            return int(self.seed)
        if self.run_seed is None:
            raise RuntimeError(
                'AugmentationConsistency(seed=None) follows the run\'s '
                'randomness.seed, but no RunSeedHook handed it over: add '
                "default_hooks.run_seed=dict(type='RunSeedHook') to the "
                'config (mmseg_uda/engine/hooks/run_seed_hook.py), or set '
                'model.self_training.seed')
        return self.run_seed

    def generator(self, iteration: int) -> torch.Generator:
        """The CPU generator of one iteration on this rank, seeded with
        ``(seed, iteration, rank)``."""
        g = torch.Generator()
        key = (self.base_seed() * 1_000_003 + iteration) * 1_009 + get_rank()
        g.manual_seed(key % (1 << 63))
        return g

    def noisy_views(self, views: Tensor, data_preprocessor,
                    g: torch.Generator) -> Tensor:
        """The student's copies of the views: photometric noise in pixel
        space.

        The normalised views are de-normalised with the data
        preprocessor's ``mean`` / ``std`` to pixel values, clamped to
        [0, 255] and divided by 255 (unit range), noised with the noise
        module's ``apply_unit`` and normalised again: with
        :math:`m, s` the mean and std,
        :math:`u = \\mathrm{clamp}((x s + m) / 255, 0, 1)` and
        :math:`x' = (255\\, \\mathrm{noise}(u) - m) / s`. One fused pass
        each way, in float32 (like ``PhotometricNoise.forward``); the output
        has the dtype of ``views``.

        Args:
            views (Tensor): Normalised views (N, 3, H, W).
            data_preprocessor: Holds the normalisation ``mean``/``std``.
            g (torch.Generator): The iteration's generator.

        Returns:
            Tensor: Noisy normalised views, same shape and dtype.
        """
        mean = getattr(data_preprocessor, 'mean', None)
        std = getattr(data_preprocessor, 'std', None)
        if mean is None or std is None:
            raise ValueError('AugmentationConsistency needs the data '
                             'preprocessor to normalise (mean and std) so the '
                             'student noise can work in pixel space')
        mean = mean.view(1, -1, 1, 1).to(views.device, torch.float32)
        std = std.view(1, -1, 1, 1).to(views.device, torch.float32)
        unit = torch.addcmul(mean / PIXEL_MAX, views.float(),
                             std / PIXEL_MAX).clamp_(0, 1)
        noisy = self.noise.apply_unit(unit, g)
        return torch.addcmul(-mean / std, noisy,
                             PIXEL_MAX / std).to(views.dtype)

    def fusion_size(self, logit_size: Sequence[int],
                    view_size: Sequence[int]) -> Tuple[int, int]:
        """(height, width) of the fused maps for logits of ``logit_size``
        and views of ``view_size``."""
        if self.fusion_upsample is None:
            return int(view_size[0]), int(view_size[1])
        h, w = (min(int(v), max(1, int(round(n * self.fusion_upsample))))
                for n, v in zip(logit_size, view_size))
        return h, w

    @torch.no_grad()
    def teacher_probabilities(self, teacher: torch.nn.Module,
                              outputs: HeadOutputs,
                              view_size: Sequence[int]) -> Tensor:
        """The teacher's raw class probabilities of every view (before the
        multi-view fusion), at the fusion size (:meth:`fusion_size`).

        Args:
            teacher (nn.Module): The momentum network.
            outputs (HeadOutputs): Its logits of the views.
            view_size (Sequence[int]): (height, width) of the views.

        Returns:
            Tensor: (B * V, C, h, w) float32 probabilities.
        """
        size = (int(view_size[0]), int(view_size[1]))
        fsize = self.fusion_size(outputs.primary.shape[-2:], size)
        return fused_probabilities(teacher, outputs, fsize).float()

    @torch.no_grad()
    def fuse_probabilities(self, teacher: torch.nn.Module, probs: Tensor,
                           affines: Tensor,
                           view_size: Sequence[int]) -> Tensor:
        """Fuse per-view maps of :meth:`teacher_probabilities` over the
        views of each image (:func:`fuse_views`), seen through each view.

        Returns:
            Tensor: Fused maps (B * V, C, *view_size), float32 (in
            channels-last memory format when fused below the view size).
        """
        size = (int(view_size[0]), int(view_size[1]))
        if tuple(probs.shape[-2:]) == size:  # the release: at the view size
            return fuse_views(probs, affines)
        align = bool(getattr(teacher.decode_head, 'align_corners', False))
        return fuse_coarse_views(probs, affines, size, align_corners=align)

    @torch.no_grad()
    def fuse_teacher(self, teacher: torch.nn.Module, outputs: HeadOutputs,
                     affines: Tensor, view_size: Sequence[int]) -> Tensor:
        """The teacher's class probabilities of every view, fused over the
        views of each image (:func:`fuse_views`) and seen through each view:
        :meth:`teacher_probabilities`, then :meth:`fuse_probabilities`.

        Args:
            teacher (nn.Module): The momentum network.
            outputs (HeadOutputs): Its logits of the views.
            affines (Tensor): View-to-canvas affines (B, V, 2, 3).
            view_size (Sequence[int]): (height, width) of the views.

        Returns:
            Tensor: Fused maps (B * V, C, *view_size), float32 (in
            channels-last memory format when fused below the view size).
        """
        probs = self.teacher_probabilities(teacher, outputs, view_size)
        return self.fuse_probabilities(teacher, probs, affines, view_size)

    @torch.no_grad()
    def make_targets(self, teacher: torch.nn.Module, target_inputs: Tensor,
                     iteration: int, data_preprocessor
                     ) -> Tuple[Tensor, Dict[str, Tensor], Dict[str, Tensor]]:
        """Student views and their fused teacher pseudo labels.

        Args:
            teacher (nn.Module): The momentum network (an mmseg segmentor in
                eval mode).
            target_inputs (Tensor): Normalised clean target images
                (B, 3, H, W).
            iteration (int): Current iteration (seeds the randomness).
            data_preprocessor: Holds the normalisation ``mean``/``std``.

        Returns:
            tuple: ``(student_views (B*V, 3, H, W), targets, logs)`` where
            ``targets`` has ``labels`` (B*V, H, W) with 255 = ignore,
            ``confidence`` (B*V, H, W), ``class_prior`` (C,) and
            ``view_to_image`` (B, V, 2, 3), the affines the views were
            sampled with (view to input image, see ``MultiCropViews``;
            for monitoring).
        """
        g = self.generator(iteration)
        views, affines, to_image = self.views(target_inputs, g)
        student_views = self.noisy_views(views, data_preprocessor, g)
        teacher_out = forward_heads(teacher, views)
        probs = self.teacher_probabilities(teacher, teacher_out,
                                           views.shape[-2:])
        # Eq. 1: the prior follows the teacher's raw per-view softmax (paper
        # and release), not the fused targets
        self.pseudo_labeler.update_prior(probs)
        fused = self.fuse_probabilities(teacher, probs, affines,
                                        views.shape[-2:])
        labels, confidence, thresholds = self.pseudo_labeler(fused)
        coverage = (labels != self.pseudo_labeler.ignore_index).float().mean()
        logs = dict(
            pl_coverage=coverage,
            pl_mean_threshold=thresholds.mean(),
            pl_mean_confidence=confidence.mean())
        targets = dict(
            labels=labels,
            confidence=confidence,
            class_prior=self.pseudo_labeler.class_prior.clone(),
            view_to_image=to_image)
        return student_views, targets, logs

    def target_weight(self, iteration: int) -> float:
        """Ramp-up factor of the target loss at ``iteration``."""
        if self.rampup_iters <= 0:
            return 1.0
        return min(1.0, (iteration + 1) / self.rampup_iters)

    def loss(self, student_logits: Dict[str, Tensor],
             targets: Dict[str, Tensor], iteration: int) -> Dict[str, Tensor]:
        """Focal confidence loss of the student's views (Eq. 6).

        Args:
            student_logits (dict[str, Tensor]): ``primary`` (and ``aux``)
                logits of the noisy views at view size.
            targets (dict[str, Tensor]): From :meth:`make_targets`.
            iteration (int): Current iteration (ramp-up).

        Returns:
            dict[str, Tensor]: ``loss_sac`` (and ``loss_sac_aux``).
        """
        w = self.target_weight(iteration)
        args = (targets['labels'], targets['confidence'],
                targets['class_prior'])
        losses = {'loss_sac': w * self.loss_fn(student_logits['primary'],
                                               *args)}
        if self.aux_weight > 0 and 'aux' in student_logits:
            losses['loss_sac_aux'] = w * self.aux_weight * self.loss_fn(
                student_logits['aux'], *args)
        return losses
