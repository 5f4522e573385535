"""Write pseudo labels of the target training set (MRNet stage II input).

Usage::

    python tools/gen_pseudo_labels.py CONFIG CHECKPOINT --out DIR
        [--tta] [--scales 1.0 1.25] [--fusion prob|logit]
        [--class-portion P [--max-threshold T]]
        [--overwrite] [--dataset-key target] [--device cpu|cuda]
        [--num-workers 2] [--launcher none|pytorch] [--cfg-options k=v ...]

    # several processes (each handles images rank, rank + W, ...):
    torchrun --nproc_per_node=4 tools/gen_pseudo_labels.py CONFIG CKPT \\
        --out DIR --launcher pytorch

``CONFIG`` / ``CHECKPOINT`` are the stage-I training config and checkpoint.
The network is the config's ``model`` (of a ``UDASegmentor`` its student
``segmentor``), built by mmseg's ``init_model``. The images are the config's
target training set, ``train_dataloader.dataset.<--dataset-key>`` of a
``UDADataset`` (else ``train_dataloader.dataset``), processed by the config's
``test_pipeline`` without annotation loading (load, resize to the model
input, pack; no flip or crop).

For every image the pseudo label is the argmax of the fused probabilities
at the ORIGINAL image size (logits are resized back before the head's
``fuse``; see ``mmseg_uda/apis/pseudo_label_predictor.py``):

- default (paper): ``softmax(z_p) + 0.5 softmax(z_a)``, one view;
- ``--fusion logit`` (release): ``softmax(z_p + 0.5 z_a)`` (sets the head's
  ``fuse_mode``);
- ``--tta``: averaged over ``--scales`` (default 1.0 0.75) x {identity,
  horizontal flip}, views of mmcv's ``TestTimeAug`` merged by mmseg's TTA
  model; ``--scales S1 S2 ...`` implies ``--tta``. The release's stage II
  sums ``--fusion logit`` over ``--scales 1.0 1.25`` x flip.

Output: ``DIR/<image path relative to the dataset's image folder, image
suffix replaced by .png>``, 8-bit single-channel PNGs of train ids, e.g.
``DIR/aachen/aachen_000000_000019.png`` for Cityscapes
``leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png``; plus
``DIR/meta.json`` (config, checkpoint and a fingerprint of its weights,
fusion, TTA, classes, count). Runs resume: existing PNGs that decode are
skipped (they are written atomically; a truncated one is regenerated). A
rerun into a folder whose ``meta.json`` names other settings (checkpoint,
config, fusion, views, mode, ...) is refused; ``--overwrite`` deletes the
set's labels and regenerates them all. Stage-II
configs read ``DIR`` with ``PseudoLabelDataset(pseudo_label_dir=DIR)``.

``--class-portion P`` (0 < P <= 1) adds the class-balanced selection of CBST
(Zou et al., ECCV 2018; MRNet stage II "adopts the class balance policy of
CBST"): per class, only the P most confident fraction of the pixels
predicted as that class over the whole target set is kept, the rest is set
to 255. Pass 1 writes the unfiltered argmax to ``DIR/raw/<rel>.png`` and the
confidence of the argmax class (fused probability in [0, 1], stored as
``round(255 conf)``) to ``DIR/conf/<rel>.png`` (resume: images with both
files are skipped); pass 2 (rank 0) computes the per-class thresholds t_c
(the (1-P) quantile of the class's confidences, exact on the 1/255 scale;
every pixel with conf >= t_c is kept, so ties keep slightly more than P),
optionally capped, t_c = min(t_c, T) with ``--max-threshold T`` (0 < T <= 1,
default 1: no cap), and always rewrites ``DIR/<rel>.png`` from raw + conf.
``meta.json`` then records the portion, the cap, the per-class thresholds
and kept fractions; a per-class table is logged.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402
from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.logging import MMLogger, print_log  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (registers components, safe checkpoints)
from mmseg_uda.apis import (build_target_dataset,  # noqa: E402
                            generate_pseudo_labels, init_model)
from mmseg_uda.apis.pseudo_labels import DEFAULT_TTA_SCALES  # noqa: E402
from mmseg_uda.utils.tool_config import (add_config_arguments,  # noqa: E402
                                         export_local_rank, load_tool_config)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Generate pseudo labels of the target training set '
        '(MRNet stage II)')
    parser.add_argument('config', help='stage-I training config')
    parser.add_argument('checkpoint', help='stage-I checkpoint')
    parser.add_argument(
        '--out', required=True, help='output folder of the pseudo labels')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='average over --scales x horizontal flip (mmseg TTA)')
    parser.add_argument(
        '--scales',
        type=float,
        nargs='+',
        default=None,
        help='input scales of the TTA views, each with its flip (default: '
        '1.0 0.75; the MRNet release uses 1.0 1.25); implies --tta')
    parser.add_argument(
        '--fusion',
        choices=['prob', 'logit'],
        default=None,
        help="fuse_mode of the dual head: 'prob': softmax(z_p) + 0.5 "
        "softmax(z_a) (paper; the default unless the config sets another); "
        "'logit': softmax(z_p + 0.5 z_a) (authors' release)")
    parser.add_argument(
        '--class-portion',
        type=float,
        default=None,
        help='CBST class-balanced selection: keep the most confident '
        'portion P in (0, 1] of the pixels of every class (default: keep '
        'all)')
    parser.add_argument(
        '--max-threshold',
        type=float,
        default=None,
        help='cap T in (0, 1] of the per-class confidence thresholds '
        '(default 1: no cap); needs --class-portion')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='delete the pseudo labels of the set in --out and regenerate '
        'them all (without it, a folder whose meta.json names other '
        'settings is refused)')
    parser.add_argument(
        '--dataset-key',
        default='target',
        help='key of the target set in a UDADataset train config')
    parser.add_argument(
        '--device',
        default=None,
        help="'cuda' or 'cpu' (default: cuda when available)")
    parser.add_argument(
        '--num-workers',
        type=int,
        default=2,
        help='data-loading worker processes (default 2)')
    add_config_arguments(parser, launchers=('none', 'pytorch'))
    return _checked(parser, parser.parse_args())


def _checked(parser, args):
    """Validate option combinations (``parser.error`` on bad ones).

    Args:
        parser (ArgumentParser): The parser (for its error exit).
        args (Namespace): The parsed options; ``--scales`` sets ``tta``.
    """
    if args.scales is not None:
        if any(s <= 0 for s in args.scales):
            parser.error(f'--scales must be positive, got {args.scales}')
        args.tta = True
    if args.class_portion is not None and not 0 < args.class_portion <= 1:
        parser.error(f'--class-portion must be in (0, 1], got '
                     f'{args.class_portion}')
    if args.max_threshold is not None:
        if args.class_portion is None:
            parser.error('--max-threshold only applies with --class-portion')
        if not 0 < args.max_threshold <= 1:
            parser.error(f'--max-threshold must be in (0, 1], got '
                         f'{args.max_threshold}')
    return export_local_rank(args)


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    rank, world_size = get_dist_info()
    MMLogger.get_instance(
        'mmseg_uda', log_level='INFO' if rank == 0 else 'ERROR')

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and world_size > 1:
        device = f'cuda:{torch.cuda.current_device()}'
    model = init_model(cfg, args.checkpoint, device=device,
                       fusion=args.fusion)
    dataset = build_target_dataset(cfg, args.dataset_key)
    scales = args.scales or list(DEFAULT_TTA_SCALES)
    print_log(
        f'{len(dataset)} images of {type(dataset).__name__} -> {args.out} '
        f'(tta={args.tta}{f", scales={scales} x flip" if args.tta else ""}'
        f', ' + (f'class portion {args.class_portion}, max threshold '
                 f'{args.max_threshold or 1.0}, '
                 if args.class_portion is not None else '') +
        f'{world_size} process(es), device {device})',
        logger='current')
    generate_pseudo_labels(
        model,
        dataset,
        args.out,
        tta=args.tta,
        scales=scales,
        rank=rank,
        world_size=world_size,
        class_portion=args.class_portion,
        max_threshold=args.max_threshold or 1.0,
        overwrite=args.overwrite,
        num_workers=args.num_workers,
        meta=dict(
            config=osp.abspath(args.config),
            checkpoint=osp.abspath(args.checkpoint),
            dataset_key=args.dataset_key,
            cfg_options=args.cfg_options and dict(args.cfg_options)))
    if world_size > 1:
        torch.distributed.destroy_process_group()


if __name__ == '__main__':
    main()
