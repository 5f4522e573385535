"""Pre-compute the per-image class statistic of SAC's importance sampling.

Runs a trained model (usually the ABN / source-only checkpoint) over the
target training images and writes ``chi`` of shape (num_images,
num_classes), row ``l`` for image ``l`` of the target dataset, for
``ClassBalancedTargetSampler(class_stats_file=...)``:

- ``--mode soft`` (paper, Eq. 1): mean probability of each class (softmax
  of the logits; for a dual head, its fused prediction renormalised, see
  ``prediction_probabilities``).
- ``--mode count`` (release): pixels of image ``l`` predicted as ``c`` over
  all pixels predicted as ``c`` in the whole dataset.

Usage::

    python tools/compute_class_stats.py CONFIG CHECKPOINT --out FILE
        [--mode soft|count] [--dataset-key target] [--keep-pipeline]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

The dataset is ``train_dataloader.dataset.<dataset-key>`` (a dotted path;
default ``target``, the target entry of a ``UDADataset``). Its training
pipeline is replaced by the config's ``test_pipeline`` without annotation
loading, unless ``--keep-pipeline`` is given. ``FILE`` ending in ``.npy``
gets the bare array; any other extension supported by ``mmengine.dump``
(``.json``, ``.pkl``) gets ``dict(class_stats=..., mode=..., img_paths=...)``.
With a launcher, each rank processes images ``rank::world_size`` and rank 0
writes the gathered result.
"""
import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.dist import all_gather_object, get_dist_info  # noqa: E402
from mmengine.fileio import dump  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from mmengine.utils import ProgressBar, mkdir_or_exist  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (registers components)
from mmseg.registry import DATASETS, MODELS  # noqa: E402
from mmseg_uda.engine.samplers.class_balanced_sampler import (  # noqa: E402
    STAT_MODES, finalize_class_stats, per_image_class_stats)
from mmseg_uda.models.uda.student_outputs import (  # noqa: E402
    prediction_probabilities)
from mmseg_uda.utils.tool_config import (add_config_arguments,  # noqa: E402
                                         export_local_rank, load_tool_config)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Per-image class statistics for class-balanced target '
        'sampling (SAC)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint of the model to run')
    parser.add_argument('--out', required=True, help='output file')
    parser.add_argument(
        '--mode',
        choices=STAT_MODES,
        default='soft',
        help='soft: mean class probability (paper); count: share of the '
        'predicted pixels of each class (release)')
    parser.add_argument(
        '--dataset-key',
        default='target',
        help='dotted path of the dataset inside train_dataloader.dataset')
    parser.add_argument(
        '--keep-pipeline',
        action='store_true',
        help="keep the dataset's own pipeline instead of test_pipeline")
    add_config_arguments(parser)
    return export_local_rank(parser.parse_args())


def select_dataset_cfg(cfg: Config, key: str, keep_pipeline: bool) -> dict:
    """The dataset config at ``train_dataloader.dataset.<key>``.

    Args:
        cfg (Config): The full config.
        key (str): Dotted path (list items by their index); '' for the
            dataset itself.
        keep_pipeline (bool): Keep its pipeline; otherwise use
            ``cfg.test_pipeline`` without annotation loading.

    Returns:
        dict: A copy of the dataset config.
    """
    node = cfg.train_dataloader.dataset
    for part in filter(None, key.split('.')):
        node = node[int(part)] if isinstance(node, (list, tuple)) \
            else node[part]
    ds_cfg = copy.deepcopy(node)
    if not keep_pipeline:
        if cfg.get('test_pipeline') is None:
            raise KeyError('the config has no test_pipeline; pass '
                           '--keep-pipeline to use the dataset pipeline')
        ds_cfg['pipeline'] = [
            t for t in copy.deepcopy(cfg.test_pipeline)
            if 'Annotations' not in str(t.get('type', ''))
        ]
    return ds_cfg


def image_class_stats(model, data: dict, mode: str) -> torch.Tensor:
    """The statistic (C,) of one collated image: the model's prediction
    (``test_step``, so ``test_cfg`` applies) turned into probabilities for
    any head type (:func:`prediction_probabilities`)."""
    sample = model.test_step(data)[0]
    probs = prediction_probabilities(model, sample.seg_logits.data)
    return per_image_class_stats(probs, mode, is_probs=True)


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    rank, world_size = get_dist_info()
    init_default_scope(cfg.get('default_scope', 'mmseg'))

    dataset = DATASETS.build(
        select_dataset_cfg(cfg, args.dataset_key, args.keep_pipeline))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = model.to(device).eval()

    indices = list(range(rank, len(dataset), world_size))
    bar = ProgressBar(len(indices)) if rank == 0 else None
    part = []
    with torch.no_grad():
        for idx in indices:
            stat = image_class_stats(model, pseudo_collate([dataset[idx]]),
                                     args.mode)
            part.append((idx, stat.cpu().numpy()))
            if bar is not None:
                bar.update()

    gathered = all_gather_object(part)
    if rank != 0:
        return
    rows = dict(item for rank_part in gathered for item in rank_part)
    stats = np.stack([rows[i] for i in range(len(dataset))])
    stats = finalize_class_stats(stats, args.mode)
    mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
    if args.out.endswith('.npy'):
        np.save(args.out, stats)
    else:
        img_paths = [
            dataset.get_data_info(i).get('img_path')
            for i in range(len(dataset))
        ] if hasattr(dataset, 'get_data_info') else None
        dump(
            dict(
                class_stats=stats.tolist(),
                mode=args.mode,
                img_paths=img_paths), args.out)
    print(f'\nwrote class statistics {stats.shape} ({args.mode}) to '
          f'{args.out}')


if __name__ == '__main__':
    main()
