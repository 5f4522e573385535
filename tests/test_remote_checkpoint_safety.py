# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Remote checkpoint schemes never run pickled code.

For every remote scheme of MMEngine's ``CheckpointLoader`` a crafted file
(an ``os.system`` payload) is placed where ``torch.hub`` caches the
scheme's URL (``$TORCH_HOME/hub/checkpoints``, a temporary directory; no
network is used): loading it through ``load_from`` / ``init_cfg``'s path
(``_load_checkpoint``, ``load_checkpoint``) is refused with an error that
names the URL and the cached file, and the payload does not run. A benign
state dict in the same place still loads.
"""
import os
import os.path as osp
import pickle
from urllib.parse import urlparse

import pytest
import torch
from mmengine.model import BaseModule
from mmengine.runner import checkpoint as mmengine_ckpt
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        load_checkpoint)

import mmseg_uda  # noqa: F401  (registers the safe loaders)

URL = 'https://download.example.invalid/models/{}-0123abcd.pth'


class _Payload:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache and URL tables for every scheme."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    # torchvision is not installed here: its table, as MMEngine reads it
    monkeypatch.setattr(mmengine_ckpt, 'get_torchvision_models',
                        lambda: {'resnet50': URL.format('resnet50')})
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    return cache


def _url_of(spec):
    """The URL MMEngine's tables give for a scheme path."""
    scheme, name = spec.split('://', 1)
    if scheme in ('http', 'https'):
        return spec
    if scheme in ('torchvision', 'modelzoo'):
        return mmengine_ckpt.get_torchvision_models()[name]
    if scheme in ('open-mmlab', 'openmmlab'):
        return mmengine_ckpt.get_external_models()[name]
    return mmengine_ckpt.get_mmcls_models()[name]


SPECS = [
    URL.format('evil').replace('https', 'http'),
    URL.format('evil'),
    'torchvision://resnet50',
    'modelzoo://resnet50',
    'open-mmlab://resnet101_v1c',  # the paper configs' backbone
    'openmmlab://resnet50_v1c',
    'mmcls://resnet50',
]


def _cache(hub, spec, obj):
    path = hub / osp.basename(urlparse(_url_of(spec)).path)
    torch.save(obj, str(path))
    return path


@pytest.mark.parametrize('spec', SPECS)
def test_cached_payload_is_refused(hub, spec, tmp_path):
    marker = tmp_path / 'pwned'
    path = _cache(hub, spec, {'state_dict': {}, 'meta': _Payload(marker)})
    with pytest.raises(pickle.UnpicklingError) as err:
        _load_checkpoint(spec, map_location='cpu')
    assert not marker.exists(), 'the payload ran'
    assert 'refused' in str(err.value) and str(path) in str(err.value)
    assert _url_of(spec) in str(err.value)


@pytest.mark.parametrize('spec', SPECS)
def test_cached_state_dict_loads(hub, spec):
    weight = torch.arange(6.).view(2, 3)
    key = 'backbone.fc.weight' if spec.startswith('mmcls') else 'fc.weight'
    _cache(hub, spec, {'state_dict': {key: weight}})
    model = torch.nn.Module()
    model.fc = torch.nn.Linear(3, 2, bias=False)
    load_checkpoint(model, spec, map_location='cpu')
    assert torch.equal(model.fc.weight.data, weight)


def test_backbone_init_cfg_url_is_refused(hub, tmp_path):
    marker = tmp_path / 'pwned'
    spec = 'open-mmlab://resnet101_v1c'
    _cache(hub, spec, {'state_dict': {}, 'meta': _Payload(marker)})
    model = BaseModule(init_cfg=dict(type='Pretrained', checkpoint=spec))
    model.fc = torch.nn.Linear(3, 2)
    with pytest.raises(pickle.UnpicklingError):
        model.init_weights()
    assert not marker.exists()


def test_every_scheme_loads_weights_only():
    """A scheme MMEngine adds later must be reviewed: every registered
    loader is ours or one that calls ``torch.load`` with its (safe)
    default."""
    safe_mmengine = {'load_from_local', 'load_from_pavi', 'load_from_ceph'}
    for prefix, loader in CheckpointLoader._schemes.items():
        assert (loader.__module__ == 'mmseg_uda.utils.safe_checkpoint_loaders'
                or (loader.__module__ == 'mmengine.runner.checkpoint'
                    and loader.__name__ in safe_mmengine)), prefix
