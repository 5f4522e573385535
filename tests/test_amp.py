# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Mixed-precision training (``tools/train.py --amp``).

- ``enable_amp`` turns every optimizer wrapper of every config (segmentor
  and discriminators) into ``AmpOptimWrapper`` with CUDA and into
  ``BF16AutocastOptimWrapper`` without (the CUDA flag is given explicitly,
  both ways);
- for each synthetic method config (source-only, oracle, AdaptSegNet, MRNet
  I/II, ABN, SAC, MR+SAC), built from the config with a tiny student, one
  ``train_step`` with the bf16 wrappers runs the forward passes in bfloat16
  (segmentor and discriminators), yields float32, finite losses and updates
  every trainable part;
- the wrappers' state dicts round-trip (also through ``torch.save`` /
  ``weights_only`` loading) and are interchangeable with fp32
  ``OptimWrapper`` and fp16 ``AmpOptimWrapper`` checkpoints;
- the bf16 step computes the fp32 step's losses to bfloat16 precision;
- the fp16 path (``AmpOptimWrapper``) goes through one real ``train_step``
  on a CUDA GPU (skipped without one: MMEngine's loss scaler needs it).
"""
import copy
import io
import logging
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import make_batch, set_iter
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import (AmpOptimWrapper, OptimWrapper, OptimWrapperDict,
                            build_optim_wrapper)

from mmseg.registry import MODELS, OPTIM_WRAPPERS
from mmseg_uda.engine.optimizers import (BF16AutocastOptimWrapper,
                                         GuardedAmpOptimWrapper,
                                         GuardedOptimWrapper)
from mmseg_uda.utils.amp import enable_amp, optim_wrapper_cfgs

pytestmark = pytest.mark.usefixtures('uda_env')

CONFIG_ROOT = Path(__file__).resolve().parents[1] / 'configs'
ALL_CONFIGS = sorted(
    p.relative_to(CONFIG_ROOT).with_suffix('').as_posix()
    for p in CONFIG_ROOT.rglob('*.py')
    if not {'_base_', 'benchmarks'} & set(p.relative_to(CONFIG_ROOT).parts))
SYNTHETIC = [
    'source_only', 'oracle', 'adaptsegnet', 'mrnet', 'mrnet_stage2', 'abn',
    'sac', 'mrnet_sac'
]


def tiny_config(name: str) -> Config:
    """``configs/synthetic/<name>.py`` with a tiny student (ResNetV1c-18 of
    base width 8 for 32x64 images), small discriminators, two SAC views and
    the memory regularisation on from iteration 0."""
    cfg = Config.fromfile(str(CONFIG_ROOT / 'synthetic' / f'{name}.py'))
    model = cfg.model
    model.segmentor.backbone.update(stem_channels=8, base_channels=8)
    model.segmentor.decode_head.update(in_channels=(32, 64), channels=8)
    model.data_preprocessor.size = (32, 64)
    if model.get('adversary'):
        for disc in model.adversary.discriminators.values():
            disc.ndf = 8
    if model.get('self_training'):
        model.self_training.views.num_views = 2
        model.self_training.seed = 0  # no runner (RunSeedHook) here
    if model.get('memory_reg'):
        model.memory_reg_start_iter = 0
    return cfg


def build(cfg: Config):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def params_of(module: nn.Module):
    return {
        n: p.detach().clone()
        for n, p in module.named_parameters() if p.requires_grad
    }


class StepRecorder:
    """Records the loss dicts given to ``parse_losses`` (one per update:
    segmentor, then each discriminator) and the dtypes of the outputs of
    the student's backbone and of every discriminator."""

    def __init__(self, model: nn.Module) -> None:
        self.losses = []
        self.out_dtypes = {}
        parse = model.parse_losses

        def recording_parse(losses):
            self.losses.append(dict(losses))
            return parse(losses)

        model.parse_losses = recording_parse
        watched = {'backbone': model.segmentor.backbone}
        if model.adversary is not None:
            watched.update({
                f'disc_{k}': d
                for k, d in model.adversary.discriminators.items()
            })
        for name, module in watched.items():
            module.register_forward_hook(self._hook(name))

    def _hook(self, name):

        def hook(module, args, output):
            outs = output if isinstance(output, (tuple, list)) else [output]
            self.out_dtypes.setdefault(name, set()).update(
                o.dtype for o in outs if isinstance(o, torch.Tensor))

        return hook


def assert_same_state(a, b, path='state'):
    """Nested state dicts hold equal values (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            assert_same_state(a[k], b[k], f'{path}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f'{path}[{i}]')
    else:
        assert a == b, (path, a, b)


# ----------------------------------------------------------------------------
# enable_amp
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('cuda', [False, True], ids=['cpu', 'cuda'])
@pytest.mark.parametrize('name', ALL_CONFIGS, ids=ALL_CONFIGS)
def test_enable_amp_converts_every_wrapper(name, cuda):
    cfg = Config.fromfile(str(CONFIG_ROOT / f'{name}.py'))
    parts = set(cfg.optim_wrapper) - {'constructor'}
    assert 'segmentor' in parts  # and `discriminator` (Adam) in every config
    lrs = {k: cfg.optim_wrapper[k].optimizer.lr for k in parts}
    enable_amp(cfg, cuda_available=cuda)
    assert cfg.optim_wrapper.constructor == 'UDAOptimWrapperConstructor'
    for part in parts:
        wrapper = cfg.optim_wrapper[part]
        if cuda:
            assert wrapper.type == 'AmpOptimWrapper', part
            assert wrapper.loss_scale == 'dynamic', part
        else:
            assert wrapper.type == 'BF16AutocastOptimWrapper', part
            assert 'loss_scale' not in wrapper, part
        assert wrapper.optimizer.lr == lrs[part]  # the rest is untouched


def test_enable_amp_other_layouts():
    # a single wrapper (no constructor)
    single = Config(
        dict(
            optim_wrapper=dict(
                type='OptimWrapper',
                optimizer=dict(type='SGD', lr=0.1),
                paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))))
    enable_amp(single, cuda_available=False)
    assert single.optim_wrapper.type == 'BF16AutocastOptimWrapper'
    assert optim_wrapper_cfgs(single.optim_wrapper) == [single.optim_wrapper]

    # per-discriminator entries, an fp16 wrapper in the config on a CPU
    # machine, a bf16 wrapper in the config on a CUDA machine
    cfg = Config(
        dict(
            optim_wrapper=dict(
                constructor='UDAOptimWrapperConstructor',
                segmentor=dict(
                    type='mmengine.AmpOptimWrapper',
                    loss_scale=512.,
                    dtype='float16',
                    optimizer=dict(type='SGD', lr=0.1)),
                disc_primary=dict(optimizer=dict(type='Adam', lr=1e-4)),
                disc_aux=dict(
                    type='BF16AutocastOptimWrapper',
                    optimizer=dict(type='Adam', lr=1e-4)))))
    gpu = copy.deepcopy(cfg)
    enable_amp(cfg, cuda_available=False)
    for part in ('segmentor', 'disc_primary', 'disc_aux'):
        wrapper = cfg.optim_wrapper[part]
        assert wrapper.type == 'BF16AutocastOptimWrapper', part
        assert not {'loss_scale', 'dtype'} & set(wrapper), part
    enable_amp(gpu, cuda_available=True)
    assert gpu.optim_wrapper.segmentor.loss_scale == 512.  # kept
    assert gpu.optim_wrapper.segmentor.type == 'mmengine.AmpOptimWrapper'
    assert gpu.optim_wrapper.disc_primary.type == 'AmpOptimWrapper'
    assert gpu.optim_wrapper.disc_primary.loss_scale == 'dynamic'
    assert gpu.optim_wrapper.disc_aux.type == 'BF16AutocastOptimWrapper'

    # idempotent
    again = copy.deepcopy(cfg)
    enable_amp(again, cuda_available=False)
    assert again.optim_wrapper == cfg.optim_wrapper

    with pytest.raises(ValueError, match='OptimWrapper'):
        enable_amp(
            Config(
                dict(
                    optim_wrapper=dict(
                        type='ApexOptimWrapper',
                        optimizer=dict(type='SGD', lr=0.1)))),
            cuda_available=True)
    with pytest.raises(ValueError, match='no optimizer wrapper'):
        enable_amp(
            Config(dict(optim_wrapper=dict(constructor='X', foo=dict()))),
            cuda_available=False)


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='the fp16 AmpOptimWrapper path needs a CUDA GPU')
def test_enable_amp_fp16_train_step_on_gpu():
    """With CUDA, every part of the OptimWrapperDict is an AmpOptimWrapper
    with its own loss scaler, and one real train_step on the GPU runs the
    student and the discriminators in float16 and updates every part."""
    cfg = tiny_config('mrnet')
    enable_amp(cfg, cuda_available=True)
    model, optim = build(cfg)
    model.cuda()
    assert isinstance(optim, OptimWrapperDict)
    assert set(optim.keys()) == {'segmentor', 'disc_primary', 'disc_aux'}
    scalers = set()
    for name, wrapper in optim.items():
        assert type(wrapper) is GuardedAmpOptimWrapper, name
        assert isinstance(wrapper, AmpOptimWrapper)
        scalers.add(id(wrapper.loss_scaler))
    assert len(scalers) == 3  # one dynamic loss scaler per optimizer

    rec = StepRecorder(model)
    before = {k: params_of(m) for k, m in model.optim_groups().items()}
    log_vars = model.train_step(make_batch(), optim)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']).detach()).all()
    for module, dtypes in rec.out_dtypes.items():
        assert torch.float16 in dtypes, module
    for part, module in model.optim_groups().items():
        after = params_of(module)
        assert any(not torch.equal(before[part][n], after[n])
                   for n in after), part
        assert all(p.dtype == torch.float32 for p in module.parameters())
    state = optim.state_dict()
    assert all('loss_scaler' in state[k] for k in optim.keys())


# ----------------------------------------------------------------------------
# BF16AutocastOptimWrapper
# ----------------------------------------------------------------------------


def test_bf16_wrapper_context():
    assert OPTIM_WRAPPERS.get('BF16AutocastOptimWrapper') is \
        BF16AutocastOptimWrapper
    model = nn.Conv2d(3, 4, 3)
    wrapper = BF16AutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert not torch.is_autocast_enabled('cpu')
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
        out = model(torch.randn(1, 3, 8, 8))
    assert not torch.is_autocast_enabled('cpu')
    assert out.dtype == torch.bfloat16
    loss = out.float().square().mean()
    wrapper.update_params(loss)  # no loss scaling: plain backward + step
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert 'bfloat16' in repr(wrapper)
    with pytest.raises(ValueError, match='device type'):
        BF16AutocastOptimWrapper(
            device_type='no-such-device',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


# ----------------------------------------------------------------------------
# one bf16 train_step per method
# ----------------------------------------------------------------------------

EXPECTED_LOSSES = {
    'adaptsegnet': {'tgt.loss_adv_primary', 'tgt.loss_adv_aux'},
    'mrnet': {'tgt.loss_adv_primary', 'tgt.loss_adv_aux', 'tgt.loss_mr'},
    'mrnet_stage2': {'tgt.loss_mr'},
    'sac': {'tgt.loss_sac'},
    'mrnet_sac': {'tgt.loss_sac', 'tgt.loss_mr'},
}


@pytest.mark.parametrize('name', SYNTHETIC)
def test_bf16_train_step(name):
    cfg = tiny_config(name)
    enable_amp(cfg, cuda_available=False)
    model, optim = build(cfg)
    assert set(optim.keys()) == set(model.optim_groups())
    for part, wrapper in optim.items():
        assert type(wrapper) is BF16AutocastOptimWrapper, part
    rec = StepRecorder(model)
    before = {k: params_of(m) for k, m in model.optim_groups().items()}
    set_iter(0)
    model.train_step(make_batch(target=model.uses_target), optim)

    # the forward passes ran under bfloat16 autocast, each in its wrapper's
    # context (the segmentor's and every discriminator's)
    for module, dtypes in rec.out_dtypes.items():
        assert torch.bfloat16 in dtypes, module
    discs = {k for k in optim.keys() if k.startswith('disc_')}
    assert set(rec.out_dtypes) == {'backbone'} | discs
    # one loss dict per update; every loss float32 and finite
    assert len(rec.losses) == 1 + len(discs)
    for losses in rec.losses:
        for key, value in losses.items():
            assert value.dtype == torch.float32, (key, value.dtype)
            assert torch.isfinite(value).all(), key
    assert EXPECTED_LOSSES.get(name, set()) <= set(rec.losses[0])
    for losses in rec.losses[1:]:
        assert {'loss_d_src', 'loss_d_tgt'} <= set(losses)
    # every trainable part was updated; weights stay float32
    for part, module in model.optim_groups().items():
        after = params_of(module)
        assert any(not torch.equal(before[part][n], after[n])
                   for n in after), part
        assert all(p.dtype == torch.float32 for p in module.parameters())


@pytest.mark.parametrize('name', ['mrnet', 'sac'])
def test_bf16_losses_match_fp32(name):
    """The same step in bfloat16 autocast and in float32: equal losses to
    bfloat16 precision, but not bit-identical (the bf16 path really runs)."""
    logs = {}
    for amp in (False, True):
        cfg = tiny_config(name)
        if amp:
            enable_amp(cfg, cuda_available=False)
        model, optim = build(cfg)
        set_iter(0)
        logs[amp] = model.train_step(make_batch(), optim)
    keys = [k for k in logs[False]
            if k.startswith(('src.', 'tgt.')) and 'loss' in k]
    assert 'src.decode.loss_ce' in keys
    for k in keys:
        fp32, bf16 = float(logs[False][k]), float(logs[True][k])
        assert bf16 == pytest.approx(fp32, rel=0.05, abs=1e-4), k
    assert any(float(logs[False][k]) != float(logs[True][k]) for k in keys)


# ----------------------------------------------------------------------------
# state dicts
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('name', ['mrnet', 'sac'])
def test_bf16_state_dict_round_trip(name):
    cfg = tiny_config(name)
    enable_amp(cfg, cuda_available=False)
    model, optim = build(cfg)
    set_iter(0)
    model.train_step(make_batch(), optim)
    state = optim.state_dict()
    for part in optim.keys():
        assert state[part]['state'], f'{part}: no optimizer state'
        assert 'loss_scaler' not in state[part]

    # through a checkpoint file, loaded with weights_only=True
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    model2, optim2 = build(cfg)
    optim2.load_state_dict(loaded)
    assert_same_state(optim2.state_dict(), state)
    # training continues from the loaded state
    model2.load_state_dict(model.state_dict())
    set_iter(1)
    model2.train_step(make_batch(seed=1), optim2)

    # an fp32 checkpoint resumes with --amp and vice versa
    fp32_cfg = tiny_config(name)
    _, fp32 = build(fp32_cfg)
    assert all(type(w) is GuardedOptimWrapper and isinstance(w, OptimWrapper)
               for w in fp32.values())
    fp32.load_state_dict(copy.deepcopy(state))
    assert_same_state(fp32.state_dict(), state)
    _, bf16 = build(cfg)
    bf16.load_state_dict(copy.deepcopy(fp32.state_dict()))
    assert_same_state(bf16.state_dict(), state)


def test_bf16_loads_fp16_checkpoint():
    """A GPU fp16 (AmpOptimWrapper) checkpoint resumes on a CPU with bf16:
    the loss scaler state is dropped, the optimizer state kept."""
    cfg = tiny_config('adaptsegnet')
    enable_amp(cfg, cuda_available=False)
    model, optim = build(cfg)
    model.train_step(make_batch(), optim)
    state = optim.state_dict()
    fp16_state = copy.deepcopy(state)
    for part in fp16_state:
        fp16_state[part]['loss_scaler'] = dict(
            scale=65536.0,
            growth_factor=2.0,
            backoff_factor=0.5,
            growth_interval=2000,
            _growth_tracker=3)
    _, optim2 = build(cfg)
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        optim2.load_state_dict(fp16_state)
    finally:
        logger.removeHandler(handler)
    assert_same_state(optim2.state_dict(), state)
    assert any('loss scaler' in r.getMessage() for r in records)
    assert all('loss_scaler' in fp16_state[p] for p in fp16_state)
