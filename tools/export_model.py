"""Export one network of a trained UDA run as a plain mmseg model.

Usage::

    python tools/export_model.py CONFIG CHECKPOINT OUT_DIR
        [--model student|teacher] [--cfg-options k=v ...]

Writes ``OUT_DIR/config.py`` (the ``EncoderDecoder`` alone, its test
pipeline, class names and palette; ``custom_imports`` of mmseg_uda only when
the model needs one of its types, e.g. ``DualDeepLabV2Head``) and
``OUT_DIR/model.pth`` (that network's weights in mmseg's key layout and
``meta.dataset_meta``; no discriminator, teacher copy, class prior or
optimizer state). Load it with::

    from mmseg.apis import MMSegInferencer, inference_model, init_model
    model = init_model('OUT_DIR/config.py', 'OUT_DIR/model.pth', 'cpu')
    inferencer = MMSegInferencer(model='OUT_DIR/config.py',
                                 weights='OUT_DIR/model.pth', device='cpu')

``--model teacher`` exports SAC's momentum teacher instead of the student.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from mmengine.config import DictAction  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (registers components, safe checkpoints)
from mmseg_uda.apis.export import NETWORK_PREFIXES, export_model  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export the student or teacher of a UDA checkpoint as a '
        'plain mmseg config + checkpoint')
    parser.add_argument('config', help='training config file')
    parser.add_argument('checkpoint', help='training checkpoint')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--model',
        choices=sorted(NETWORK_PREFIXES),
        default='student',
        help="network to export: 'student' (default) or 'teacher' (SAC's "
        'momentum teacher)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the training config, key=value pairs')
    return parser.parse_args()


def main():
    args = parse_args()
    paths = export_model(args.config, args.checkpoint, args.out_dir,
                         args.model, args.cfg_options)
    print(f'exported the {args.model}: {paths["config"]}, '
          f'{paths["checkpoint"]}')


if __name__ == '__main__':
    main()
