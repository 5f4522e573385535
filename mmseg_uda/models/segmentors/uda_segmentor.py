"""A UDA segmentor: any mmseg segmentor plus composable adaptation parts."""
import logging
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel, ExponentialMovingAverage
from mmengine.optim import OptimWrapperDict
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import get_total_norm

from ...engine.wrappers.gradient_sync import (all_reduce_gradients,
                                              dist_world_size)
from ..uda.multi_crop_views import compose_affines, warp_views
from ..uda.student_outputs import (HeadOutputs, _aux_heads, forward_heads,
                                   fused_probabilities, head_losses,
                                   labels_to_samples)
from ..uda.view_fusion import invert_affine

NONFINITE_POLICIES = ('skip', 'raise')


class NonFiniteLossError(FloatingPointError, RuntimeError):
    """A loss or gradient of a UDA update is NaN or infinite and
    ``nonfinite_policy='raise'``.

    Both a :class:`FloatingPointError` and a :class:`RuntimeError`.
    """


class _BufferSnapshot:
    """Flat copies of modules' buffers, taken before a step so that a
    skipped step can leave BN statistics, class priors etc. untouched.

    One ``cat`` per dtype and device; nothing is copied back unless
    :meth:`restore` is called.

    Args:
        modules (Sequence[nn.Module | None]): Modules whose buffers
            (recursively) are saved; None entries are ignored.
    """

    def __init__(self, modules: Sequence[Optional[nn.Module]]) -> None:
        seen, groups = set(), {}
        for module in modules:
            if module is None:
                continue
            for buf in module.buffers():
                if id(buf) in seen:
                    continue
                seen.add(id(buf))
                groups.setdefault((buf.dtype, buf.device), []).append(buf)
        with torch.no_grad():  # torch.cat: a copy
            self.groups = [(bufs,
                            _flatten_dense_tensors([b.detach()
                                                    for b in bufs]))
                           for bufs in groups.values()]

    @torch.no_grad()
    def restore(self) -> None:
        """Write the saved values back into the buffers."""
        for bufs, flat in self.groups:
            for dst, src in zip(bufs, _unflatten_dense_tensors(flat, bufs)):
                dst.copy_(src)


class _ViewCapture:
    """Records the view-to-canvas affines of SAC's ``MultiCropViews`` during
    :meth:`AugmentationConsistency.make_targets` (a forward hook, removed on
    exit), for pseudo-label statistics and the debug panel."""

    def __init__(self, self_training: Optional[nn.Module]) -> None:
        views = getattr(self_training, 'views', None)
        self.views = views if isinstance(views, nn.Module) else None
        self.affines: Optional[Tensor] = None
        self._handle = None

    def _hook(self, module, args, output) -> None:
        if isinstance(output, (tuple, list)) and len(output) == 2:
            self.affines = output[1].detach()

    def __enter__(self) -> '_ViewCapture':
        if self.views is not None:
            self._handle = self.views.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


@MODELS.register_module()
class UDASegmentor(BaseModel):
    """Unsupervised domain adaptation around a stock mmseg segmentor.

    The student is any mmseg segmentor (``EncoderDecoder`` with any backbone;
    a second classifier comes from a dual decode head or from
    ``auxiliary_head``). Adaptation parts are optional and combine freely:

    - ``adversary``: output-space adversarial training with one
      discriminator per head (AdaptSegNet, MRNet);
    - ``memory_reg``: memory regularisation between the two heads (MRNet
      Eq. 5), after ``memory_reg_start_iter`` iterations;
    - ``self_training`` + ``teacher``: a momentum teacher whose fused
      multi-view predictions give pseudo labels (SAC);
    - ``update_target_bn_stats``: target images pass through the student in
      train mode without loss or gradient so BatchNorm statistics see both
      domains (SAC's ABN pre-training);
    - ``freeze_bn_stats``: BN running statistics stay fixed while the BN
      affine parameters train (SAC adaptation).

    One training step (:meth:`train_step`) reads like the algorithm: source
    loss -> target pseudo labels -> target forward -> adversarial, memory and
    self-training terms -> one segmentor update -> discriminator updates on
    detached predictions. The iteration number comes from the runner's
    :class:`MessageHub`, so resuming continues warm-ups and schedules
    exactly. Validation and test run the student alone (with a dual head,
    its fused prediction).

    **Non-finite losses.** Before every optimizer update (segmentor and each
    discriminator) the total loss is tested; after the gradient averaging,
    so are the gradients (except under ``AmpOptimWrapper``, whose loss
    scaler already skips steps with overflowing gradients). Under
    ``torch.distributed`` the loss test is all-reduced, so every rank takes
    the same decision (the averaged gradients are identical on all ranks
    anyway). A NaN / inf is logged as an MMLogger warning with the
    iteration and the names of the offending loss terms (or parameters) and
    then, by ``nonfinite_policy``:

    - ``'skip'`` (default): no backward / no optimizer step, gradients
      zeroed, and the buffers changed during the step (BN running
      statistics, SAC's class prior) restored, so the skipped step leaves
      the model as it was. The buffer ``skipped_steps`` counts skipped
      updates (saved in checkpoints, restored on resume) and is logged
      every iteration as ``nonfinite_skips``. With gradient accumulation a
      skipped step also drops the gradients accumulated so far in the
      window.
    - ``'raise'``: :class:`NonFiniteLossError` (a ``FloatingPointError`` and
      ``RuntimeError``) naming the iteration and the terms.

    **Debugging** (see ``UDAVisualizationHook``, which sets the flags):
    with ``pl_stats = True`` every step with self-training logs the
    pseudo-label statistics of :meth:`pseudo_label_stats`; with
    ``keep_debug = True`` the step stores :attr:`last_debug`, a small dict
    of CPU arrays for the first target image (:meth:`collect_debug`). Both
    flags are off by default and cost nothing then.

    Args:
        segmentor (dict): Config of the student segmentor (without
            ``data_preprocessor``: this model's preprocessor is used).
        data_preprocessor (dict, optional): Usually ``UDADataPreProcessor``.
        adversary (dict, optional): ``OutputSpaceAdversary`` config.
        memory_reg (dict, optional): ``MemoryRegLoss`` config.
        memory_reg_start_iter (int): Iteration from which the memory
            regularisation is applied (MRNet paper 10k, release 15k).
        memory_reg_on (str): ``'target'`` (stage I: the unlabelled target
            batch) or ``'labelled'`` (stage II: the pseudo-labelled batch,
            no extra forward pass).
        teacher (dict, optional): Momentum teacher, ``dict(momentum=0.01,
            interval=100)``; psi <- (1 - momentum) psi + momentum phi every
            ``interval`` iterations, BN statistics included. Updated by
            ``EMATeacherHook``.
        self_training (dict, optional): Target self-training config (e.g.
            ``AugmentationConsistency``); needs ``teacher``.
        labelled_loss (dict, optional): Replaces the heads' own supervised
            losses on the labelled batch by one loss of both heads' logits and
            the labels, e.g. ``RectifiedPseudoLabelLoss`` (MRNet stage II,
            the IJCV "rectifying pseudo labels" variant).
        update_target_bn_stats (bool): ABN pre-training target pass.
        freeze_bn_stats (bool): Keep BN layers of the student in eval mode.
        align_corners (bool): Resizing of logits to the input size before the
            adaptation losses. Defaults to True (as in the papers).
        nonfinite_policy (str): What a NaN / inf loss or gradient does:
            ``'skip'`` the update (counted in ``skipped_steps``) or
            ``'raise'`` :class:`NonFiniteLossError`. Defaults to 'skip'.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 segmentor: dict,
                 data_preprocessor: Optional[dict] = None,
                 adversary: Optional[dict] = None,
                 memory_reg: Optional[dict] = None,
                 memory_reg_start_iter: int = 0,
                 memory_reg_on: str = 'target',
                 teacher: Optional[dict] = None,
                 self_training: Optional[dict] = None,
                 labelled_loss: Optional[dict] = None,
                 update_target_bn_stats: bool = False,
                 freeze_bn_stats: bool = False,
                 align_corners: bool = True,
                 nonfinite_policy: str = 'skip',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if segmentor.get('data_preprocessor') is not None:
            segmentor = dict(segmentor)
            segmentor['data_preprocessor'] = None
        self.segmentor = MODELS.build(segmentor)
        self.num_classes = self.segmentor.decode_head.num_classes
        self._check_head_classes()
        if nonfinite_policy not in NONFINITE_POLICIES:
            raise ValueError(f'nonfinite_policy must be one of '
                             f'{NONFINITE_POLICIES}, got {nonfinite_policy!r}')
        self.nonfinite_policy = nonfinite_policy
        # number of optimizer updates skipped for a non-finite loss/gradient
        # (a buffer: checkpointed and restored on resume)
        self.register_buffer('skipped_steps',
                             torch.zeros((), dtype=torch.long))
        # debugging, switched on by UDAVisualizationHook
        self.keep_debug = False
        self.pl_stats = False
        self.last_debug: Optional[dict] = None
        self.class_names: Optional[Tuple[str, ...]] = None
        self.adversary = MODELS.build(
            adversary, default_args=dict(
                num_classes=self.num_classes)) if adversary else None
        self.memory_reg = MODELS.build(memory_reg) if memory_reg else None
        if memory_reg_on not in ('target', 'labelled'):
            raise ValueError("memory_reg_on must be 'target' or 'labelled', "
                             f'got {memory_reg_on!r}')
        self.memory_reg_start_iter = memory_reg_start_iter
        self.memory_reg_on = memory_reg_on
        if self_training is not None and teacher is None:
            raise ValueError('self_training needs a momentum teacher: add '
                             'teacher=dict(momentum=..., interval=...)')
        self.teacher = None
        if teacher is not None:
            self.teacher = ExponentialMovingAverage(
                self.segmentor,
                momentum=teacher.get('momentum', 0.01),
                interval=teacher.get('interval', 100),
                update_buffers=True)
            self.teacher.eval()
        self.self_training = MODELS.build(
            self_training, default_args=dict(
                num_classes=self.num_classes)) if self_training else None
        self.labelled_loss = MODELS.build(labelled_loss) \
            if labelled_loss else None
        self.update_target_bn_stats = update_target_bn_stats
        self.freeze_bn_stats = freeze_bn_stats
        self.align_corners = align_corners

    # ------------------------------------------------------------------
    # structure
    # ------------------------------------------------------------------
    @property
    def uses_target(self) -> bool:
        """Whether a training batch must have a target part."""
        return bool(self.adversary is not None or self.self_training
                    is not None or self.update_target_bn_stats or
                    (self.memory_reg is not None
                     and self.memory_reg_on == 'target'))

    def target_consumers(self) -> List[str]:
        """The configured parts that need target images (empty when the
        model trains on the labelled batch alone)."""
        parts = []
        if self.adversary is not None:
            parts.append('adversary (output-space adversarial training)')
        if self.self_training is not None:
            parts.append('self_training (teacher pseudo labels)')
        if self.update_target_bn_stats:
            parts.append('update_target_bn_stats (ABN target pass)')
        if self.memory_reg is not None and self.memory_reg_on == 'target':
            parts.append("memory_reg with memory_reg_on='target'")
        return parts

    def _check_head_classes(self) -> None:
        heads = [('decode_head', self.segmentor.decode_head)]
        aux = _aux_heads(self.segmentor)
        heads += [('auxiliary_head' if len(aux) == 1 else
                   f'auxiliary_head[{i}]', h) for i, h in enumerate(aux)]
        for name, head in heads:
            n = getattr(head, 'num_classes', self.num_classes)
            if n != self.num_classes:
                raise ValueError(
                    f'UDASegmentor: segmentor.{name}.num_classes={n} but '
                    f'decode_head.num_classes={self.num_classes}; all '
                    'classifiers of the student must predict the same classes')

    @staticmethod
    def _dataset_classes(dataset) -> Optional[tuple]:
        meta = getattr(dataset, 'metainfo', None)
        if not isinstance(meta, dict) or not meta.get('classes'):
            return None
        return tuple(meta['classes'])

    def check_dataset(self, dataset, split: str = 'train') -> None:
        """Check that ``dataset`` can feed this model; raise a clear error
        before the first iteration otherwise.

        - ``split='train'``: a model with target consumers (adversary,
          self-training, ABN, target memory regularisation) needs a
          dataset with a target part (a ``UDADataset``: ``source`` and
          ``target`` attributes; dataset wrappers such as
          ``RepeatDataset`` / ``ConcatDataset`` are looked through).
        - Every split: the number of classes of the dataset (each part of a
          ``UDADataset``), from ``metainfo['classes']``, must equal the
          model's ``decode_head.num_classes``. Datasets without class
          metainfo are not checked.

        The class names of the training (target) dataset are kept as
        :attr:`class_names` (names of the per-class statistics).

        Args:
            dataset: The dataset of the loop (e.g.
                ``runner.train_dataloader.dataset``).
            split (str): ``'train'``, ``'val'`` or ``'test'``.

        Raises:
            ValueError: On a missing target part or a class-count mismatch.
        """
        name = type(dataset).__name__
        pairs = self._paired_datasets(dataset)
        if split == 'train' and pairs is None and self.uses_target:
            raise ValueError(
                f'UDASegmentor: {", ".join(self.target_consumers())} '
                f'need(s) target images, but the train dataset is {name}, '
                'which has no target part. Use train_dataloader.dataset='
                "dict(type='UDADataset', source=<labelled dataset>, "
                'target=<target dataset>) with '
                "sampler=dict(type='UDAInfiniteSampler').")
        parts = [(role, getattr(pair, role)) for pair in pairs or ()
                 for role in ('source', 'target')] or [(None, dataset)]
        for role, ds in parts:
            classes = self._dataset_classes(ds)
            if classes is None:
                continue
            if len(classes) != self.num_classes:
                what = (f'the {split} dataset {name} ({role} '
                        f'{type(ds).__name__})' if role else
                        f'the {split} dataset {name}')
                raise ValueError(
                    f'UDASegmentor: {what} has {len(classes)} classes but '
                    f'the model predicts {self.num_classes} '
                    '(segmentor.decode_head.num_classes). Set num_classes='
                    f'{len(classes)} in every head of the model, or choose '
                    f'a dataset label mapping with {self.num_classes} '
                    'classes.')
        if split == 'train':
            classes = self._dataset_classes(
                pairs[0].target if pairs else dataset)
            if classes is not None:
                self.class_names = classes

    @classmethod
    def _paired_datasets(cls, dataset) -> Optional[list]:
        """The source/target pairs (``UDADataset``-like: ``source`` and
        ``target`` attributes) behind ``dataset``, looking through dataset
        wrappers (``dataset`` / ``datasets`` attributes); None when some
        samples would have no target part."""
        if getattr(dataset, 'source', None) is not None and \
                getattr(dataset, 'target', None) is not None:
            return [dataset]
        inner = getattr(dataset, 'datasets', None)
        if inner is None and getattr(dataset, 'dataset', None) is not None:
            inner = [dataset.dataset]
        if not inner:
            return None
        pairs = [cls._paired_datasets(d) for d in inner]
        if any(p is None for p in pairs):
            return None
        return [p for group in pairs for p in group]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # checkpoints from before `skipped_steps` existed load as 0 skips
        key = prefix + 'skipped_steps'
        if key not in state_dict:
            state_dict[key] = torch.zeros_like(self.skipped_steps)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def optim_groups(self) -> Dict[str, nn.Module]:
        """Trainable parts, each with its own optimizer wrapper.

        Returns:
            dict[str, nn.Module]: ``segmentor`` and ``disc_<head>`` for every
            discriminator (see ``UDAOptimWrapperConstructor``).
        """
        groups = {'segmentor': self.segmentor}
        if self.adversary is not None:
            for name, disc in self.adversary.discriminators.items():
                groups[f'disc_{name}'] = disc
        return groups

    def train(self, mode: bool = True) -> 'UDASegmentor':
        """Set train mode; the teacher always stays in eval mode and, with
        ``freeze_bn_stats``, so do the student's BN layers."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        if mode and self.freeze_bn_stats:
            for m in self.segmentor.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def _apply(self, fn, *args, **kwargs) -> 'UDASegmentor':
        """Apply ``fn`` (``to``/``cuda``/``half``...) and re-bind the
        teacher's averaging targets.

        mmengine's ``ExponentialMovingAverage`` writes its updates into
        ``avg_parameters``, detached views of the teacher's tensors taken at
        construction. Moving the model (the runner does, after building it)
        gives the parameters new storage, so without re-binding the copy of
        the student and every EMA update would go to stale tensors and never
        reach the teacher.
        """
        super()._apply(fn, *args, **kwargs)
        teacher = getattr(self, 'teacher', None)
        if teacher is not None:
            teacher.avg_parameters = (
                teacher.module.state_dict() if teacher.update_buffers else
                dict(teacher.module.named_parameters()))
        return self

    @staticmethod
    def current_iter() -> int:
        """The runner's iteration (0-based), from the MessageHub."""
        return int(MessageHub.get_current_instance().get_info('iter', 0))

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], list]:
        """Inference through the student (``predict`` / ``tensor``); use
        :meth:`train_step` for training."""
        if mode == 'loss':
            raise RuntimeError('UDASegmentor trains through train_step(); '
                               "forward(mode='loss') is not supported")
        return self.segmentor(inputs, data_samples, mode=mode)

    # ------------------------------------------------------------------
    # training: the algorithm
    # ------------------------------------------------------------------
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One UDA iteration.

        Args:
            data (dict): A batch from the dataloader (source part, and a
                target part for methods that use one).
            optim_wrapper (OptimWrapperDict): ``segmentor`` and one wrapper per
                discriminator.

        Returns:
            dict[str, Tensor]: Logged losses and statistics.
        """
        data = self.data_preprocessor(data, True)
        self._check_batch(data)
        it = self.current_iter()
        seg_wrapper = self._wrapper(optim_wrapper, 'segmentor')
        # to undo the step's buffer updates if the update is skipped
        snapshot = _BufferSnapshot([self.segmentor, self.self_training])
        watch = self.self_training is not None and (self.pl_stats
                                                    or self.keep_debug)
        views = _ViewCapture(self.self_training) if watch else nullcontext()

        with seg_wrapper.optim_context(self.segmentor):
            losses, logs = {}, {}
            src = self.forward_source(data['inputs'])
            losses.update(self.source_loss(src, data['data_samples']))
            if self.update_target_bn_stats:
                self.observe_target_bn_stats(data['target_inputs'])
            tgt, tgt_inputs, targets = None, None, None
            if self._needs_target_forward():
                with views:
                    tgt_inputs, targets, st_logs = self.make_pseudo_targets(
                        data['target_inputs'], it)
                logs.update(st_logs)
                tgt = self.forward_target(tgt_inputs)
            if self.adversary is not None:
                losses.update(self.adversarial_loss(tgt))
            if self.memory_reg is not None and \
                    it >= self.memory_reg_start_iter:
                losses.update(self.memory_loss(
                    tgt if self.memory_reg_on == 'target' else src))
            if self.self_training is not None:
                losses.update(self.self_training_loss(tgt, targets, it))
        total, log_vars = self.parse_losses(losses)
        self.apply_update(seg_wrapper, self.segmentor, total, losses,
                          part='segmentor', snapshot=snapshot)

        if self.adversary is not None:
            log_vars.update(
                self.update_discriminators(src, tgt, optim_wrapper))

        # monitoring (off unless UDAVisualizationHook switches it on)
        to_image = None
        if watch and targets is not None:
            to_image = self._views_to_image(views.affines, it)
            if self.pl_stats:
                logs.update(self.pseudo_label_stats(
                    targets, to_image, data.get('target_data_samples')))
        if self.keep_debug:
            self.last_debug = self.collect_debug(data, targets, to_image, it)
        log_vars.update(logs)
        log_vars['nonfinite_skips'] = self.skipped_steps.detach().clone()
        return log_vars

    # named steps ------------------------------------------------------
    def _logits(self, batch: Dict[str, object]) -> Dict[str, Tensor]:
        """Head logits of a forwarded batch at its input size, resized once
        and shared by the adversarial, memory and self-training terms and
        the discriminator update."""
        if 'logits' not in batch:
            batch['logits'] = batch['outputs'].resized(
                batch['inputs'].shape[-2:], self.align_corners)
        return batch['logits']

    def forward_source(self, inputs: Tensor) -> Dict[str, object]:
        """Student forward on the labelled batch."""
        outputs = forward_heads(self.segmentor, inputs)
        return dict(outputs=outputs, inputs=inputs)

    def source_loss(self, src: Dict[str, object],
                    data_samples: list) -> Dict[str, Tensor]:
        """Supervised loss of every head (primary CE + 0.5 aux CE for the
        dual head), computed by the heads' own ``loss_decode`` - or the
        configured ``labelled_loss`` of both heads."""
        if self.labelled_loss is not None:
            outputs = src['outputs']
            if outputs.aux is None:
                raise KeyError('labelled_loss needs two classifiers: use a '
                               'dual decode head or add an auxiliary_head')
            labels = torch.stack(
                [s.gt_sem_seg.data[0] for s in data_samples]).long()
            name = getattr(self.labelled_loss, 'loss_name', 'loss_labelled')
            return {
                f'src.{name}':
                self.labelled_loss(outputs.primary, outputs.aux, labels)
            }
        return add_prefix(
            head_losses(self.segmentor, src['outputs'], data_samples), 'src')

    @torch.no_grad()
    def observe_target_bn_stats(self, target_inputs: Tensor) -> None:
        """ABN: forward target images in train mode, no loss, no gradient,
        so BN running statistics average over both domains."""
        self.segmentor.extract_feat(target_inputs)

    def _needs_target_forward(self) -> bool:
        return self.adversary is not None or \
            self.self_training is not None or \
            (self.memory_reg is not None and self.memory_reg_on == 'target')

    def make_pseudo_targets(self, target_inputs: Tensor, it: int):
        """Student inputs for the target part and, with self-training, the
        teacher's pseudo targets for them.

        Returns:
            tuple: ``(student_inputs, targets or None, logs)``.
        """
        if self.self_training is None:
            return target_inputs, None, {}
        with torch.no_grad():
            return self.self_training.make_targets(
                self.teacher.module, target_inputs, it,
                self.data_preprocessor)

    def forward_target(self, inputs: Tensor) -> Dict[str, object]:
        """Student forward on the (view-augmented) target batch."""
        outputs = forward_heads(self.segmentor, inputs)
        return dict(outputs=outputs, inputs=inputs)

    def adversarial_loss(self, tgt: Dict[str, object]) -> Dict[str, Tensor]:
        """Fool every (frozen) discriminator on the target predictions."""
        return add_prefix(
            self.adversary.generator_loss(
                self._logits(tgt)), 'tgt')

    def memory_loss(self, batch: Dict[str, object]) -> Dict[str, Tensor]:
        """Memory regularisation between the primary and auxiliary heads."""
        logits = self._logits(batch)
        if 'aux' not in logits:
            raise KeyError('memory_reg needs two classifiers: use a dual '
                           'decode head or add an auxiliary_head')
        return {'tgt.loss_mr': self.memory_reg(logits['primary'],
                                               logits['aux'])}

    def self_training_loss(self, tgt: Dict[str, object], targets,
                           it: int) -> Dict[str, Tensor]:
        """Self-training loss of the student views against the teacher's
        fused pseudo labels."""
        logits = self._logits(tgt)
        return add_prefix(self.self_training.loss(logits, targets, it), 'tgt')

    def update_discriminators(self, src: Dict[str, object],
                              tgt: Dict[str, object],
                              optim_wrapper: OptimWrapperDict
                              ) -> Dict[str, Tensor]:
        """One update of every discriminator on detached predictions."""
        src_logits = {
            k: v.detach()
            for k, v in self._logits(src).items()
        }
        tgt_logits = {
            k: v.detach()
            for k, v in self._logits(tgt).items()
        }
        log_vars = {}
        for name in self.adversary.head_names:
            disc = self.adversary.discriminators[name]
            wrapper = self._wrapper(optim_wrapper, f'disc_{name}')
            snapshot = _BufferSnapshot([disc])
            with wrapper.optim_context(disc):
                losses = self.adversary.discriminator_loss(
                    name, src_logits, tgt_logits)
            total, logs = self.parse_losses(losses)
            self.apply_update(wrapper, disc, total, losses,
                              part=f'disc_{name}', snapshot=snapshot)
            log_vars.update({f'disc_{name}.{k}': v for k, v in logs.items()})
        return log_vars

    def apply_update(self,
                     optim_wrapper,
                     module: nn.Module,
                     loss: Tensor,
                     losses: Optional[Dict[str, Tensor]] = None,
                     part: str = 'segmentor',
                     snapshot: Optional[_BufferSnapshot] = None) -> bool:
        """Backward, average gradients over processes, optimizer step -
        unless the loss or the gradients are not finite.

        :meth:`OptimWrapper.update_params` with two additions: right before
        the step, the gradients of ``module`` are averaged over all ranks
        (a no-op in a single process; this is what DDP would do, but
        explicit, so it works for every trainable part of a GAN-style step
        and whatever the forward passes were, see
        ``UDADistributedWrapper``); and a non-finite loss or gradient is
        handled by ``nonfinite_policy`` (see the class docstring). The
        loss test is all-reduced (max) under ``torch.distributed`` so that
        all ranks skip together: a rank that went on would wait forever in
        the gradient all-reduce.

        Args:
            optim_wrapper (OptimWrapper): The part's wrapper.
            module (nn.Module): The part (its gradients are averaged).
            loss (Tensor): Total loss of the part.
            losses (dict, optional): The loss terms, to name the non-finite
                ones in the message.
            part (str): Name of the part in messages.
            snapshot (_BufferSnapshot, optional): Buffers to restore when
                the update is skipped.

        Returns:
            bool: Whether the update was applied (False: skipped).
        """
        bad = self._any_rank(~torch.isfinite(loss.detach()).all())
        if bad:
            terms = self._nonfinite_terms(losses if losses is not None else
                                          {'loss': loss})
            what = ('non-finite loss ' + ', '.join(terms) if terms else
                    'non-finite loss on another rank')
            self._skip_or_raise(optim_wrapper, part, what, snapshot)
            return False
        optim_wrapper.backward(optim_wrapper.scale_loss(loss))
        if optim_wrapper.should_update():
            all_reduce_gradients(module.parameters())
            # the averaged gradients are identical on all ranks: the same
            # decision everywhere without another collective
            if self._check_grads(optim_wrapper) and \
                    not self._grads_finite(module):
                names = [n for n, p in module.named_parameters()
                         if p.grad is not None
                         and not torch.isfinite(p.grad).all()]
                shown = ', '.join(names[:5]) + (
                    f' (+{len(names) - 5} more)' if len(names) > 5 else '')
                self._skip_or_raise(
                    optim_wrapper, part,
                    f'non-finite gradients of {shown} (finite loss '
                    f'{float(loss.detach()):.4g})', snapshot)
                return False
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        return True

    # non-finite handling --------------------------------------------------
    @staticmethod
    def _any_rank(flag: Tensor) -> bool:
        """``flag`` (a bool tensor) or-ed over all ranks (one collective
        under ``torch.distributed``, then one host sync)."""
        flag = flag.detach().reshape(()).to(torch.int32)
        if dist_world_size() > 1:
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MAX)
        return bool(flag.item())

    @staticmethod
    def _grads_finite(module: nn.Module) -> bool:
        """Whether every gradient of ``module`` is finite (one fused
        max-abs reduction, one host sync)."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return True
        return bool(torch.isfinite(get_total_norm(grads, float('inf'))))

    @staticmethod
    def _nonfinite_terms(losses: Dict[str, Tensor]) -> List[str]:
        """``'name=value'`` of every loss term (keys with ``loss``, as summed
        by ``parse_losses``) that is not finite."""
        terms = []
        for name, value in losses.items():
            if 'loss' not in name:
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                v = torch.as_tensor(v).detach()
                if not torch.isfinite(v).all():
                    shown = v.float().sum() if v.numel() > 1 else v
                    terms.append(f'{name}={float(shown)}')
                    break
        return terms

    @staticmethod
    def _check_grads(optim_wrapper) -> bool:
        # AmpOptimWrapper: its loss scaler skips steps with inf/NaN
        # gradients itself (scaled fp16 gradients overflow by design)
        return getattr(optim_wrapper, 'loss_scaler', None) is None

    def _skip_or_raise(self, optim_wrapper, part: str, what: str,
                       snapshot: Optional[_BufferSnapshot]) -> None:
        it = self.current_iter()
        where = (f'{what} in the {part} update at iteration {it + 1} '
                 f'(runner.iter={it})')
        optim_wrapper.zero_grad()
        if snapshot is not None:
            snapshot.restore()
        if self.nonfinite_policy == 'raise':
            raise NonFiniteLossError(
                f'UDASegmentor: {where}; training stopped '
                "(model.nonfinite_policy='raise'; 'skip' skips such "
                'updates instead).')
        with torch.no_grad():
            self.skipped_steps.add_(1)
        print_log(
            f'UDASegmentor: {where}; the update is skipped '
            f"(nonfinite_policy='skip', {int(self.skipped_steps)} skipped "
            'so far).',
            logger='current',
            level=logging.WARNING)

    # monitoring ---------------------------------------------------------
    def _views_to_image(self, affines: Optional[Tensor],
                        it: int) -> Optional[Tensor]:
        """View-to-image affines (B, V, 2, 3) of this step's SAC views.

        The captured affines map views to the canvas; with the release's
        zoomed canvas (``base_scale_range``) the canvas-to-image affine is
        replayed from the same seeded generator and used only if the replay
        reproduces the captured views. None when unknown.
        """
        views = getattr(self.self_training, 'views', None)
        if affines is None or views is None:
            return None
        if getattr(views, 'base_scale_range', None) is None:
            return affines
        generator = getattr(self.self_training, 'generator', None)
        if generator is None or not hasattr(views, 'sample_affines'):
            return None
        replay, base = views.sample_affines(
            affines.shape[0], generator(it), device=affines.device,
            dtype=affines.dtype)
        if base is None or not torch.allclose(replay, affines):
            return None
        return compose_affines(base.unsqueeze(1), affines)

    def _class_keys(self) -> List[str]:
        names = self.class_names
        if names is None or len(names) != self.num_classes:
            return [str(c) for c in range(self.num_classes)]
        return [str(n).replace(' ', '_') for n in names]

    @staticmethod
    def _target_gt(samples: Optional[list]) -> Optional[Tensor]:
        """(B, H, W) target labels when every target sample has some."""
        if not samples or not all('gt_sem_seg' in s for s in samples):
            return None
        return torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()

    @torch.no_grad()
    def pseudo_label_stats(self, targets: Dict[str, Tensor],
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

        Class names come from :attr:`class_names` (set by
        :meth:`check_dataset` or ``UDAVisualizationHook``; spaces become
        ``_``), else class indices.

        Args:
            targets (dict): From ``make_targets``, with ``labels``
                (B*V, h, w), ``ignore_index`` marking unlabelled pixels.
            to_image (Tensor, optional): View-to-image affines (B, V, 2, 3).
            target_samples (list, optional): Target data samples.

        Returns:
            dict[str, Tensor]: Scalars to log.
        """
        labels = targets['labels']
        C = self.num_classes
        valid = (labels >= 0) & (labels < C)
        counts = torch.bincount(
            torch.where(valid, labels, C).flatten(), minlength=C + 1)[:C]
        share = counts.float() / max(labels.numel(), 1)
        logs = {
            f'pl_coverage.{name}': share[c]
            for c, name in enumerate(self._class_keys())
        }
        gt = self._target_gt(target_samples)
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

    def _denormalised(self, image: Tensor) -> np.ndarray:
        """A normalised (3, H, W) input as an (H, W, 3) uint8 array, in the
        channel order of the model inputs (RGB with ``bgr_to_rgb``)."""
        mean = getattr(self.data_preprocessor, 'mean', None)
        std = getattr(self.data_preprocessor, 'std', None)
        image = image.detach().float()
        if mean is not None and std is not None and \
                getattr(self.data_preprocessor, '_enable_normalize', True):
            image = image * std.view(-1, 1, 1).to(image) + \
                mean.view(-1, 1, 1).to(image)
        return image.clamp(0, 255).round().byte().permute(1, 2,
                                                           0).cpu().numpy()

    @torch.no_grad()
    def _eval_outputs(self, segmentor: nn.Module,
                      inputs: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Eval-mode (fused, aux) predictions of ``segmentor`` at input
        size; the train/eval modes of the model are restored after."""
        was_training = self.training
        segmentor.eval()
        try:
            out = forward_heads(segmentor, inputs)
            size = inputs.shape[-2:]
            fused = fused_probabilities(segmentor, out, size).argmax(1)
            aux = None
            if out.aux is not None:
                aux = out.resized(size, self.align_corners)['aux'].argmax(1)
        finally:
            self.train(was_training)
        return fused, aux

    @torch.no_grad()
    def collect_debug(self, data: dict, targets: Optional[dict],
                      to_image: Optional[Tensor], it: int) -> Optional[dict]:
        """A small, detached snapshot of the first target image's step.

        Called at the end of :meth:`train_step` when ``keep_debug`` is set;
        costs one eval-mode student forward (and one teacher forward) of a
        single image.

        Args:
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
        student, aux = self._eval_outputs(self.segmentor, inputs)
        reference, reference_name = aux, 'aux head'
        if self.teacher is not None:
            reference, _ = self._eval_outputs(self.teacher.module, inputs)
            reference_name = 'teacher'
        ignore = int(getattr(getattr(self.self_training, 'pseudo_labeler',
                                     None), 'ignore_index', 255))
        pseudo = None
        if targets is not None and to_image is not None:
            # view 0 of image 0 back onto the image; +1 so that 0 = outside
            lab = targets['labels'][:1, None].float() + 1
            back = warp_views(
                lab, invert_affine(to_image[:1, :1]), out_size=size,
                mode='nearest', padding_mode='zeros')[0, 0].long() - 1
            pseudo = torch.where(back < 0, torch.full_like(back, ignore),
                                 back)
        gt = self._target_gt(data.get('target_data_samples', [])[:1])

        def host(x):
            return None if x is None else x.reshape(size).long().cpu().numpy()

        return dict(
            iter=it,
            image=self._denormalised(inputs[0]),
            student=host(student[0]),
            reference=host(reference[0] if reference is not None else None),
            reference_name=reference_name if reference is not None else None,
            pseudo_labels=host(pseudo),
            gt=host(gt[0] if gt is not None else None),
            ignore_index=ignore,
            num_classes=self.num_classes)

    # helpers ------------------------------------------------------------
    @staticmethod
    def _wrapper(optim_wrapper, name: str):
        if isinstance(optim_wrapper, OptimWrapperDict):
            if name not in optim_wrapper:
                raise KeyError(f'no optimizer wrapper {name!r}; configured: '
                               f'{list(optim_wrapper.keys())}')
            return optim_wrapper[name]
        if name != 'segmentor':
            raise TypeError(
                f'the {name!r} part needs its own optimizer: build optim_'
                "wrapper with constructor='UDAOptimWrapperConstructor'")
        return optim_wrapper

    def _check_batch(self, data: dict) -> None:
        if self.uses_target and 'target_inputs' not in data:
            raise KeyError(
                'this UDA method needs target images, but the training batch '
                'has no target part: use UDADataset(source=..., target=...) '
                'as the train dataset')

    @staticmethod
    def pseudo_label_samples(labels: Tensor) -> List:
        """Data samples holding pseudo labels (for heads' loss_by_feat)."""
        return labels_to_samples(labels)
