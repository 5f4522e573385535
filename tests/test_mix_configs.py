# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Any mmseg model as a UDA student: the ``configs/mix/`` configs.

- the stock MMSegmentation model configs (``mmseg::_base_/models/...``) are
  wrapped unchanged (SegFormer) or changed only by the declared delta
  (DeepLabV3+ narrowed to ResNet-18), and the method parts equal those of
  the synthetic configs of the same method;
- a few iterations of each through ``tools/train.py --amp`` (bfloat16 on a
  CPU) on a tiny generated synthetic benchmark: SAC with SegFormer MiT-B0
  (from scratch), MRNet with DeepLabV3+, whose FCN ``auxiliary_head`` is
  the second classifier.
"""
import os.path as osp
from pathlib import Path

import pytest
from helpers.train_runs import LOADERS, TWO_ITERS, run_python
from helpers.val_log import check_val_metrics
from mmengine.config import Config

import mmseg_uda  # noqa: F401  (mmseg:: config bases, registries)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = Path(ROOT) / 'configs'
# two iterations (LOADERS starts from random weights; the SAC test passes
# load_from=None itself as well)
FAST = LOADERS + TWO_ITERS
# one thread per process: far faster than two contended ones on a shared
# 2-core machine
WRAPPER_KEYS = {'segmentor', 'data_preprocessor'}


def load(path: str) -> Config:
    return Config.fromfile(str(CONFIGS / path))


def stock_model(tmp_path, base: str) -> dict:
    """``model`` of a stock mmseg base config, read through ``mmseg::``."""
    cfg_file = tmp_path / 'stock.py'
    cfg_file.write_text(f"_base_ = ['mmseg::_base_/models/{base}']\n")
    model = Config.fromfile(str(cfg_file)).model.to_dict()
    model.pop('_scope_', None)
    return model


def segmentor_of(cfg: Config) -> dict:
    seg = cfg.model.segmentor.to_dict()
    seg.pop('_scope_', None)
    return seg


def method_parts(cfg: Config) -> dict:
    return {k: v for k, v in cfg.model.items() if k not in WRAPPER_KEYS}


# ----------------------------------------------------------------------------
# composition
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_segformer_configs_wrap_the_stock_model(tmp_path):
    stock = stock_model(tmp_path, 'segformer_mit-b0.py')
    assert stock['backbone'].get('init_cfg') is None  # nothing downloaded
    assert stock['pretrained'] is None
    for name in ('abn', 'sac'):
        cfg = load(f'mix/{name}_segformer_mit-b0_synthetic.py')
        assert cfg.model.type == 'UDASegmentor'
        assert segmentor_of(cfg) == stock, name  # unchanged, 19 classes
        assert cfg.model.data_preprocessor.type == 'UDADataPreProcessor'
        # the method parts are those of the synthetic config
        synthetic = load(f'synthetic/{name}.py')
        parts = method_parts(cfg)
        if name == 'sac':
            assert parts.pop('update_target_bn_stats') is False  # default
            assert cfg.custom_hooks == synthetic.custom_hooks
            assert cfg.train_dataloader.batch_size == \
                synthetic.train_dataloader.batch_size
            # the adaptation schedule of the synthetic SAC config
            for key in ('param_scheduler', 'train_cfg'):
                assert cfg[key] == synthetic[key], key
            assert cfg.optim_wrapper.segmentor.optimizer.lr == \
                synthetic.optim_wrapper.segmentor.optimizer.lr
        assert parts == method_parts(synthetic), name
        assert tuple(cfg.model.data_preprocessor.size) == \
            tuple(synthetic.model.data_preprocessor.size)


@pytest.mark.slow
def test_deeplabv3plus_config_wraps_the_stock_model(tmp_path):
    stock = stock_model(tmp_path, 'deeplabv3plus_r50-d8.py')
    cfg = load('mix/mrnet_deeplabv3plus_r50_synthetic.py')
    seg = segmentor_of(cfg)
    # the declared delta (narrow ResNet-18, no ImageNet weights) and
    # nothing else
    assert seg['pretrained'] is None
    assert seg['backbone'] == dict(
        stock['backbone'], depth=18, stem_channels=32, base_channels=32)
    assert seg['decode_head'] == dict(
        stock['decode_head'],
        in_channels=256,
        channels=64,
        c1_in_channels=32,
        c1_channels=12)
    assert seg['auxiliary_head'] == dict(
        stock['auxiliary_head'], in_channels=128, channels=32)
    changed = {'pretrained', 'backbone', 'decode_head', 'auxiliary_head'}
    assert {k: v for k, v in seg.items() if k not in changed} == \
        {k: v for k, v in stock.items() if k not in changed}
    # the method parts are the synthetic MRNet's; the MR start is 40% of
    # each config's own schedule (this one trains from scratch, 800
    # iterations; the synthetic one adapts a start for 400)
    parts, synthetic = method_parts(cfg), load('synthetic/mrnet.py')
    for c, p in ((cfg, parts), (synthetic, method_parts(synthetic))):
        assert p.pop('memory_reg_start_iter') == 0.4 * c.train_cfg.max_iters
    synthetic_parts = method_parts(synthetic)
    synthetic_parts.pop('memory_reg_start_iter')
    assert parts == synthetic_parts


# ----------------------------------------------------------------------------
# training through tools/train.py
# ----------------------------------------------------------------------------


def train(config, work_dir, cwd, *extra, amp=False):
    args = [
        osp.join(ROOT, 'tools', 'train.py'),
        str(CONFIGS / 'mix' / config), '--work-dir',
        str(work_dir)
    ]
    if amp:
        args.append('--amp')
    return run_python(args + ['--cfg-options'] + FAST + list(extra), cwd)


@pytest.fixture(scope='module')
def bench(bench_dir):
    return bench_dir


@pytest.mark.slow
def test_segformer_sac_amp(bench):
    """SAC with the stock SegFormer, from scratch (the ABN stage that
    normally provides ``load_from`` shares the student and is covered by the
    composition test above)."""
    out = train(
        'sac_segformer_mit-b0_synthetic.py',
        bench / 'work' / 'sac_segformer',
        str(bench),
        'load_from=None',
        'model.teacher.interval=1',
        amp=True)
    assert 'BF16AutocastOptimWrapper' in out
    assert 'Iter(train) [2/2]' in out
    assert 'src.decode.loss_ce' in out and 'src.aux' not in out
    assert 'tgt.loss_sac' in out and 'pl_coverage' in out
    check_val_metrics(out, num_classes=19)


@pytest.mark.slow
def test_mrnet_deeplabv3plus_amp(bench):
    work_dir = bench / 'work' / 'mrnet_deeplabv3plus'
    out = train(
        'mrnet_deeplabv3plus_r50_synthetic.py',
        work_dir,
        str(bench),
        'model.memory_reg_start_iter=0',
        amp=True)
    assert 'BF16AutocastOptimWrapper' in out
    assert 'Iter(train) [2/2]' in out
    # the FCN auxiliary head is the second classifier: its own CE, its own
    # discriminator, and the memory regularisation against the ASPP head
    for key in ('src.decode.loss_ce', 'src.aux.loss_ce', 'tgt.loss_adv_aux',
                'tgt.loss_mr', 'disc_primary.loss', 'disc_aux.loss'):
        assert key in out, key
    check_val_metrics(out, num_classes=19)
    assert osp.exists(work_dir / 'iter_2.pth')
