"""The config loading shared by the tools (mmseg_uda/utils/tool_config.py):
options, merge order, device adaptation, work dir."""
import argparse
import os

import pytest

from mmseg_uda.utils.tool_config import (add_config_arguments,
                                         export_local_rank, load_tool_config,
                                         set_work_dir)

CONFIG = '''
model = dict(backbone=dict(norm_cfg=dict(type='SyncBN')), depth=50)
train_cfg = dict(max_iters=100)
'''


def _parse(argv, **kwargs):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_config_arguments(parser, **kwargs)
    return parser.parse_args(argv)


def test_options_and_loading(tmp_path, monkeypatch):
    path = tmp_path / 'cfg.py'
    path.write_text(CONFIG)
    args = _parse([str(path), '--cfg-options', 'train_cfg.max_iters=7',
                   'model.depth=18'])
    seen = []
    cfg = load_tool_config(
        args, check=lambda c: seen.append(
            (c.train_cfg.max_iters, c.model.backbone.norm_cfg.type)))
    # the check sees the merged config before the device adaptation
    assert seen == [(7, 'SyncBN')]
    assert cfg.train_cfg.max_iters == 7 and cfg.model.depth == 18
    assert cfg.launcher == 'none'
    # adapted to this machine (the suite runs without a GPU): plain BN
    import torch
    if not torch.cuda.is_available():
        assert cfg.model.backbone.norm_cfg.type == 'BN'
    # launchers: the tool's own choices only
    with pytest.raises(SystemExit):
        _parse([str(path), '--launcher', 'slurm'],
               launchers=('none', 'pytorch'))
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    export_local_rank(_parse([str(path), '--local_rank', '3']))
    assert os.environ['LOCAL_RANK'] == '3'
    # a launcher's LOCAL_RANK wins
    export_local_rank(_parse([str(path), '--local-rank', '5']))
    assert os.environ['LOCAL_RANK'] == '3'


def test_set_work_dir(tmp_path):
    from mmengine.config import Config
    cfg = Config(dict(work_dir='from_config'))
    set_work_dir(cfg, 'configs/x/abn.py', None)
    assert cfg.work_dir == 'from_config'
    set_work_dir(cfg, 'configs/x/abn.py', 'given')
    assert cfg.work_dir == 'given'
    cfg = Config(dict())
    set_work_dir(cfg, 'configs/x/abn.py', None)
    assert cfg.work_dir == os.path.join('./work_dirs', 'abn')
