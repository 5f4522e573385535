"""Score a folder of pseudo labels against the target training labels.

For a target domain with labels for (part of) its training split (the
embedded synthetic benchmark has them; on real data, a labelled subset),
this tells how good the labels written by ``tools/gen_pseudo_labels.py``
are: pixel accuracy and per-class IoU over the labelled pixels, and the
coverage (the fraction of labelled pixels that got a pseudo label, < 100%
only after a class-balanced selection).

The target training dataset of CONFIG (``train_dataloader.dataset.target``,
or ``train_dataloader.dataset.dataset`` for a stage-II config) is rebuilt
with ``with_labels=True`` so that its own label mapping
(``LoadMappedAnnotations``) gives the ground truth in train ids; pseudo
labels are found as :class:`PseudoLabelDataset` finds them.

Usage::

    python tools/eval_pseudo_labels.py CONFIG PSEUDO_DIR [--json-out F]
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import mmseg_uda  # noqa: E402,F401  (registries, mmseg:: paths)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('pseudo_dir')
    parser.add_argument('--json-out', help='also write the scores here')
    return parser.parse_args()


def labelled_target(cfg):
    """The target training dataset of ``cfg``, built with its labels and a
    pipeline that only loads them."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    train = cfg.train_dataloader.dataset
    target = train.get('target') or train.get('dataset') or train
    target = dict(target, with_labels=True,
                  pipeline=[dict(type='LoadMappedAnnotations')])
    return DATASETS.build(target)


def confusion(gt: np.ndarray, pred: np.ndarray, num_classes: int,
              ignore: int = 255) -> np.ndarray:
    """``num_classes x num_classes`` counts (rows: ground truth) over the
    pixels labelled in ``gt`` and ``pred``."""
    keep = (gt != ignore) & (pred != ignore)
    index = gt[keep].astype(np.int64) * num_classes + pred[keep]
    return np.bincount(index, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def score(dataset, pseudo_dir: str) -> dict:
    """Accuracy, coverage, mIoU and per-class IoU (%) of the pseudo labels
    of every image of ``dataset``; raises FileNotFoundError naming the first
    missing pseudo label."""
    from PIL import Image

    from mmseg_uda.datasets.pseudo_label_dataset import (
        image_dir_and_suffix, pseudo_label_path)
    classes = dataset.metainfo['classes']
    num_classes = len(classes)
    img_dir, suffix = image_dir_and_suffix(dataset)
    conf = np.zeros((num_classes, num_classes), dtype=np.int64)
    labelled = covered = 0
    for i in range(len(dataset)):
        item = dataset[i]
        gt = item['gt_seg_map']
        path = pseudo_label_path(item['img_path'], img_dir, pseudo_dir,
                                 suffix)
        if not osp.isfile(path):
            raise FileNotFoundError(f'no pseudo label {path} for image '
                                    f'{item["img_path"]}')
        pred = np.asarray(Image.open(path))
        if pred.shape != gt.shape:
            raise ValueError(f'{path}: shape {pred.shape} != label shape '
                             f'{gt.shape}')
        labelled += int((gt != 255).sum())
        covered += int(((gt != 255) & (pred != 255)).sum())
        conf += confusion(gt, pred, num_classes)
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    present = conf.sum(1) > 0
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan) * 100
    result = {
        'images': len(dataset),
        'accuracy': float(tp.sum() / max(conf.sum(), 1) * 100),
        'coverage': float(covered / max(labelled, 1) * 100),
        'mIoU': float(np.nanmean(iou[present])),
    }
    result.update({f'IoU.{c}': float(v) for c, v in zip(classes, iou)})
    return result


def main():
    from mmengine.config import Config
    args = parse_args()
    cfg = Config.fromfile(args.config)
    result = score(labelled_target(cfg), args.pseudo_dir)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                      for k, v in result.items()}, indent=1))
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
