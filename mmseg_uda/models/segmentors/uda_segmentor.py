"""A UDA segmentor: any mmseg segmentor plus composable adaptation parts."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ...datasets.uda_dataset_check import check_uda_dataset
from ...evaluation import step_monitor
from ...utils.nonfinite_guard import BufferSnapshot, NonFiniteGuard
from ..uda.momentum_teacher import build_momentum_teacher, rebind_teacher
from ..uda.student_outputs import _aux_heads, forward_heads, head_losses
from ..uda.target_use import BN_STATS, FORWARD, TargetBNPass


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
    - ``update_target_bn_stats``: target images pass through the whole
      student in train mode without loss or gradient so the BatchNorm
      statistics of backbone and heads see both domains (SAC's ABN
      pre-training);
    - ``freeze_bn_stats``: BN running statistics stay fixed while the BN
      affine parameters train (SAC adaptation).

    One training step (:meth:`train_step`) reads like the algorithm: source
    loss -> target pseudo labels -> target forward -> adversarial, memory and
    self-training terms -> one segmentor update -> discriminator updates on
    detached predictions. The iteration number comes from the runner's
    :class:`MessageHub`, so resuming continues warm-ups and schedules
    exactly. Validation and test run the student alone (with a dual head,
    its fused prediction), or the momentum teacher when ``predict_net`` is
    ``'teacher'`` (``tools/test.py --model teacher``).

    **Non-finite losses** (:class:`NonFiniteGuard`, by ``nonfinite_policy``):
    every update's loss (all-reduced over ranks) and averaged gradients are
    tested; a NaN / inf is logged with the iteration and the offending
    terms, then the update is skipped (``'skip'``: gradients zeroed, the
    step's buffer changes undone, counted in the buffer ``skipped_steps``,
    logged every iteration as ``nonfinite_skips``) or
    :class:`NonFiniteLossError` is raised (``'raise'``).

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
        predict_net (str): Network of ``predict`` / ``tensor`` forwards:
            ``'student'`` (default) or ``'teacher'`` (needs ``teacher``).
        nonfinite_max_consecutive_skips (int): With ``'skip'``, this many
            skipped updates of one part in a row mean the run diverged:
            :class:`NonFiniteLossError` names the part and the non-finite
            terms. 0 never stops. Defaults to 20.
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
                 predict_net: str = 'student',
                 nonfinite_max_consecutive_skips: int = 20,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if segmentor.get('data_preprocessor') is not None:
            segmentor = dict(segmentor)
            segmentor['data_preprocessor'] = None
        self.segmentor = MODELS.build(segmentor)
        self.num_classes = self.segmentor.decode_head.num_classes
        self._check_head_classes()
        self.nonfinite = NonFiniteGuard(
            nonfinite_policy,
            max_consecutive_skips=nonfinite_max_consecutive_skips)
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
                num_classes=self.num_classes,
                fuse_weight=getattr(self.segmentor.decode_head,
                                    'fuse_weight', 0.5))) \
            if adversary else None
        self.memory_reg = MODELS.build(memory_reg) if memory_reg else None
        if memory_reg_on not in ('target', 'labelled'):
            raise ValueError("memory_reg_on must be 'target' or 'labelled', "
                             f'got {memory_reg_on!r}')
        self.memory_reg_start_iter = memory_reg_start_iter
        self.memory_reg_on = memory_reg_on
        if self_training is not None and teacher is None:
            raise ValueError('self_training needs a momentum teacher: add '
                             'teacher=dict(momentum=..., interval=...)')
        self.teacher = build_momentum_teacher(self.segmentor, teacher)
        self.self_training = MODELS.build(
            self_training, default_args=dict(
                num_classes=self.num_classes)) if self_training else None
        self.labelled_loss = MODELS.build(labelled_loss) \
            if labelled_loss else None
        self.update_target_bn_stats = update_target_bn_stats
        self.freeze_bn_stats = freeze_bn_stats
        self.align_corners = align_corners
        self.predict_net = predict_net

    # ------------------------------------------------------------------
    # structure
    # ------------------------------------------------------------------
    @property
    def update_target_bn_stats(self) -> bool:
        """Whether the step has the ABN target pass (:attr:`target_bn_pass`,
        a :class:`TargetBNPass` or None)."""
        return self.target_bn_pass is not None

    @update_target_bn_stats.setter
    def update_target_bn_stats(self, on: bool) -> None:
        self.target_bn_pass = TargetBNPass() if on else None

    def target_uses(self) -> Dict[str, str]:
        """What each configured part needs of the target images, as the
        part declares it (its ``target_use``, see
        ``models/uda/target_use.py``): ``FORWARD`` (a student forward on
        the target batch, with gradients) or ``BN_STATS`` (the target
        images only for BN statistics).

        Returns:
            dict[str, str]: Part name -> use; empty when the model trains
            on the labelled batch alone. :attr:`uses_target`,
            :meth:`target_consumers` and :attr:`needs_target_forward` are
            read from it.
        """
        parts = {
            'adversary': self.adversary,
            'self_training': self.self_training,
            "memory_reg (memory_reg_on='target')":
            self.memory_reg if self.memory_reg_on == 'target' else None,
            'update_target_bn_stats (ABN target pass)': self.target_bn_pass,
        }
        return {
            name: part.target_use
            for name, part in parts.items() if part is not None
        }

    @property
    def uses_target(self) -> bool:
        """Whether a training batch must have a target part."""
        return bool(self.target_uses())

    def target_consumers(self) -> List[str]:
        """The configured parts that need target images (empty when the
        model trains on the labelled batch alone)."""
        return list(self.target_uses())

    @property
    def needs_target_forward(self) -> bool:
        """Whether the step makes a student forward pass, with gradients,
        on the target batch."""
        return FORWARD in self.target_uses().values()

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

    def check_dataset(self, dataset, split: str = 'train') -> None:
        """Check that ``dataset`` can feed this model (target part, class
        count; see :func:`check_uda_dataset`) and raise a clear
        ``ValueError`` before the first iteration otherwise. The class
        names of the training (target) dataset are kept as
        :attr:`class_names` (names of the per-class statistics).

        Args:
            dataset: The dataset of the loop (e.g.
                ``runner.train_dataloader.dataset``).
            split (str): ``'train'``, ``'val'`` or ``'test'``.
        """
        classes = check_uda_dataset(dataset, split, self.num_classes,
                                    self.target_consumers())
        if classes is not None:
            self.class_names = classes

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
        teacher's averaging targets (see :func:`rebind_teacher`)."""
        super()._apply(fn, *args, **kwargs)
        rebind_teacher(getattr(self, 'teacher', None))
        return self

    @property
    def nonfinite_policy(self) -> str:
        """``'skip'`` or ``'raise'`` (see :class:`NonFiniteGuard`)."""
        return self.nonfinite.policy

    @nonfinite_policy.setter
    def nonfinite_policy(self, policy: str) -> None:
        self.nonfinite = NonFiniteGuard(
            policy,
            max_consecutive_skips=self.nonfinite.max_consecutive_skips)

    @property
    def predict_net(self) -> str:
        """``'student'`` or ``'teacher'``: the network that predicts."""
        return self._predict_net

    @predict_net.setter
    def predict_net(self, name: str) -> None:
        if name not in ('student', 'teacher'):
            raise ValueError("predict_net must be 'student' or 'teacher', "
                             f'got {name!r}')
        if name == 'teacher' and self.teacher is None:
            raise ValueError(
                'predict_net=teacher needs a momentum teacher (SAC-style '
                'model.teacher=dict(...)); this model has none')
        self._predict_net = name

    @property
    def predictor(self) -> nn.Module:
        """The segmentor named by :attr:`predict_net`."""
        if self._predict_net == 'teacher':
            return self.teacher.module
        return self.segmentor

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
        """Inference through the student, or the teacher (see
        :attr:`predict_net`) (``predict`` / ``tensor``); use
        :meth:`train_step` for training."""
        if mode == 'loss':
            raise RuntimeError('UDASegmentor trains through train_step(); '
                               "forward(mode='loss') is not supported")
        return self.predictor(inputs, data_samples, mode=mode)

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
        uses = set(self.target_uses().values())
        # to undo the step's buffer updates if the update is skipped
        snapshot = BufferSnapshot([self.segmentor, self.self_training])

        with seg_wrapper.optim_context(self.segmentor):
            losses, logs = {}, {}
            src = self.forward_student(data['inputs'])
            losses.update(self.source_loss(src, data['data_samples']))
            if BN_STATS in uses:
                self.observe_target_bn_stats(data['target_inputs'])
            tgt, targets = None, None
            if FORWARD in uses:
                tgt_inputs, targets, st_logs = self.make_pseudo_targets(
                    data['target_inputs'], it)
                logs.update(st_logs)
                tgt = self.forward_student(tgt_inputs)
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

        log_vars.update(logs)
        # pseudo-label statistics / debug snapshot (pl_stats, keep_debug)
        log_vars.update(step_monitor.monitor_step(self, data, targets, it))
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

    def forward_student(self, inputs: Tensor) -> Dict[str, object]:
        """Student forward (with gradients) on a batch: the labelled
        images, or the (view-augmented) target images.

        Returns:
            dict: ``outputs`` (:class:`HeadOutputs`) and ``inputs``; the
            logits at input size are added on first use (:meth:`_logits`).
        """
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

    def observe_target_bn_stats(self, target_inputs: Tensor) -> None:
        """ABN: the target images through the whole student for its BN
        statistics, no loss, no gradient (:class:`TargetBNPass`)."""
        self.target_bn_pass(self.segmentor, target_inputs)

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
            snapshot = BufferSnapshot([disc])
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
                     snapshot: Optional[BufferSnapshot] = None) -> bool:
        """Backward, average gradients over processes, optimizer step -
        unless the loss or the gradients are not finite.

        The part's optimizer wrapper owns the update (its
        ``guarded_update``: ``update_params`` plus the gradient all-reduce
        and the non-finite checks, see ``GuardedOptimWrapper`` in
        ``mmseg_uda/engine/optimizers/``); this model gives it its
        ``nonfinite`` policy, the ``skipped_steps`` counter and the
        iteration. A wrapper without ``guarded_update`` (a plain
        ``OptimWrapper``) is refused with a ``TypeError``: the model does
        not depend on the engine, and an update without the non-finite
        guard and the gradient averaging would fail silently.

        Args:
            optim_wrapper (OptimWrapper): The part's wrapper.
            module (nn.Module): The part (its gradients are averaged).
            loss (Tensor): Total loss of the part.
            losses (dict, optional): The loss terms, to name the non-finite
                ones in the message.
            part (str): Name of the part in messages.
            snapshot (BufferSnapshot, optional): Buffers to restore when
                the update is skipped.

        Returns:
            bool: Whether the update was applied (False: skipped).
        """
        update = getattr(optim_wrapper, 'guarded_update', None)
        if update is None:
            raise TypeError(
                f'UDASegmentor: the {part!r} optimizer wrapper '
                f'{type(optim_wrapper).__name__} has no guarded_update(); '
                "build the optimizer wrappers with constructor='UDAOptimW"
                "rapperConstructor' (it upgrades OptimWrapper / AmpOptim"
                'Wrapper to their guarded versions) or use type='
                "'GuardedOptimWrapper' (mmseg_uda/engine/optimizers/"
                'guarded_optim_wrapper.py)')
        return update(loss, module, self.nonfinite, losses, part, snapshot,
                      self.skipped_steps, self.current_iter())

    # monitoring (off unless UDAVisualizationHook switches it on) --------
    def pseudo_label_stats(self, targets: Dict[str, Tensor],
                           to_image: Optional[Tensor] = None,
                           target_samples: Optional[list] = None
                           ) -> Dict[str, Tensor]:
        """Per-class coverage (``pl_coverage.<class>``) and accuracy
        (``pl_accuracy``) of the step's pseudo labels, named after
        :attr:`class_names` (see :func:`step_monitor.pseudo_label_stats`)."""
        return step_monitor.pseudo_label_stats(targets, self.num_classes,
                                              self.class_names, to_image,
                                              target_samples)

    def collect_debug(self, data: dict, targets: Optional[dict],
                      to_image: Optional[Tensor], it: int) -> Optional[dict]:
        """A small, detached snapshot of the first target image's step
        (see :func:`step_monitor.collect_debug`)."""
        return step_monitor.collect_debug(self, data, targets, to_image, it)

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
