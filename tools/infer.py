"""Segment one's own images with an exported or a trained model.

Usage::

    python tools/infer.py MODEL_DIR_OR_CONFIG [CHECKPOINT] INPUT --out DIR
        [--model student|teacher] [--tta [--scales 1.0 0.75]]
        [--alpha 0.5] [--extensions .png .jpg] [--no-recursive]
        [--device cpu|cuda]

``MODEL_DIR_OR_CONFIG`` is a folder written by ``tools/export_model.py``
(``config.py`` + ``model.pth``; no ``CHECKPOINT``), an exported config, or a
training config followed by its training ``CHECKPOINT`` (``--model teacher``:
SAC's momentum teacher). ``INPUT`` is an image, a folder (walked
recursively unless ``--no-recursive``, files with ``--extensions``) or a glob
pattern (quote it). For every image ``DIR/labels/<rel>.png`` (palette PNG
whose pixel values are the train ids, coloured with the class palette) and
``DIR/overlays/<rel>.png`` (the image blended with the colours) are written,
``<rel>`` being the image path relative to the input folder. ``--tta``
averages the softmax over horizontal flips x ``--scales`` with mmseg's
``SegTTAModel``.

An input file that cannot be read is reported by name and skipped; the rest
are processed, and the exit status is 1 if any file failed.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import torch  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (registers components, safe checkpoints)
from mmseg_uda.apis.inference import (IMAGE_EXTENSIONS,  # noqa: E402
                                      ImageReadError, Predictor, list_images,
                                      load_segmentor, output_paths,
                                      read_image, write_outputs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Label PNGs and colour overlays for images, folders or '
        'globs')
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='MODEL [CHECKPOINT] INPUT',
        help='exported model folder (or config [+ checkpoint]) and the input '
        'image / folder / glob')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--model',
        choices=['student', 'teacher'],
        default='student',
        help='network of a training checkpoint (default: student)')
    parser.add_argument(
        '--tta', action='store_true', help='flip x scales averaging')
    parser.add_argument(
        '--scales',
        type=float,
        nargs='+',
        default=[1.0, 0.75],
        help='TTA scales relative to the test resize (default: 1.0 0.75)')
    parser.add_argument(
        '--alpha', type=float, default=0.5, help='overlay opacity')
    parser.add_argument(
        '--extensions',
        nargs='+',
        default=list(IMAGE_EXTENSIONS),
        help='image extensions read from a folder')
    parser.add_argument(
        '--no-recursive',
        action='store_true',
        help='do not walk sub-folders of an input folder')
    parser.add_argument(
        '--device',
        default=None,
        help="'cuda' or 'cpu' (default: cuda when available)")
    args = parser.parse_args(argv)
    if len(args.paths) == 2:
        args.model_path, args.checkpoint, args.input = \
            args.paths[0], None, args.paths[1]
    elif len(args.paths) == 3:
        args.model_path, args.checkpoint, args.input = args.paths
    else:
        parser.error('expected MODEL_DIR_OR_CONFIG [CHECKPOINT] INPUT')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    segmentor = load_segmentor(args.model_path, args.checkpoint, args.model,
                               device)
    predictor = Predictor(segmentor, tta=args.tta, scales=args.scales)
    palette = predictor.dataset_meta['palette']
    root, paths = list_images(args.input, args.extensions,
                              not args.no_recursive)
    failed = []
    bar = ProgressBar(len(paths))
    for path in paths:
        try:
            img = read_image(path)
        except ImageReadError as e:
            failed.append(str(e))
            print(f'\nerror: {e}', file=sys.stderr)
            bar.update()
            continue
        label = predictor(img, path)
        write_outputs(img, label, palette, output_paths(path, root, args.out),
                      args.alpha)
        bar.update()
    print(f'\n{len(paths) - len(failed)} of {len(paths)} images segmented '
          f'into {args.out} (labels/, overlays/)')
    if failed:
        print(f'{len(failed)} file(s) could not be read:\n  ' +
              '\n  '.join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
