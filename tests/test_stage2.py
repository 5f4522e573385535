"""Tests of MRNet stage II: pseudo-label generation, PseudoLabelDataset,
RectifiedPseudoLabelLoss and the stage-II configs."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from helpers.formats import make_cityscapes, random_ids  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg.registry import DATASETS, MODELS  # noqa: E402
from mmseg_uda.apis import (build_target_dataset,  # noqa: E402
                            generate_pseudo_labels, inference_pipeline,
                            pseudo_label_probs, target_dataset_cfg)
from mmseg_uda.benchmarks.synthetic import formats  # noqa: E402
from mmseg_uda.datasets.pseudo_label_dataset import \
    pseudo_label_path  # noqa: E402

init_default_scope('mmseg')

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NUM_CLASSES = 19
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 32), keep_ratio=True),
    dict(type='LoadMappedAnnotations'),
    dict(type='PackSegInputs'),
]
IMAGES = {
    'aachen/aachen_000000_000019': (24, 40),
    'aachen/aachen_000001_000019': (20, 36),
    'bremen/bremen_000000_000019': (24, 40),
}


def tiny_model_cfg():
    norm_cfg = dict(type='BN', requires_grad=True)
    return dict(
        type='UDASegmentor',
        data_preprocessor=dict(
            type='UDADataPreProcessor', mean=MEAN, std=STD, bgr_to_rgb=True,
            pad_val=0, seg_pad_val=255),
        segmentor=dict(
            type='EncoderDecoder',
            backbone=dict(
                type='ResNetV1c', depth=18, stem_channels=8,
                base_channels=8, num_stages=4, out_indices=(0, 1, 2, 3),
                dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                norm_cfg=norm_cfg, contract_dilation=True),
            decode_head=dict(
                type='DualDeepLabV2Head', in_channels=(32, 64),
                in_index=(2, 3), num_classes=NUM_CLASSES, norm_cfg=norm_cfg,
                align_corners=True),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')))


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    m = MODELS.build(tiny_model_cfg())
    # confident, spatially varying predictions of the random network:
    # logits of std ~2 without the (spatially constant) bias
    with torch.no_grad():
        for conv in list(m.segmentor.decode_head.conv_seg.convs) + list(
                m.segmentor.decode_head.conv_seg_aux.convs):
            conv.weight.mul_(1000.)
            conv.bias.zero_()
    return m.eval()


def _target_cfg(root):
    return dict(
        type='CityscapesRawDataset', data_root=root, with_labels=False,
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='RandomFlip', prob=0.5),
                  dict(type='PackSegInputs')])


def _uda_config(root, test_pipeline=TEST_PIPELINE):
    return Config(
        dict(
            model=tiny_model_cfg(),
            test_pipeline=test_pipeline,
            train_dataloader=dict(
                dataset=dict(
                    type='UDADataset',
                    source=dict(type='GTA5Dataset', data_root='unused'),
                    target=_target_cfg(root)))))


@pytest.fixture
def target(tmp_path):
    root = str(tmp_path / 'cityscapes')
    samples = make_cityscapes(
        root, 'train', {k: np.zeros(s, np.uint8)
                        for k, s in IMAGES.items()}, write_labels=False)
    dataset = build_target_dataset(_uda_config(root))
    return dict(root=root, samples=samples, dataset=dataset,
                out=str(tmp_path / 'pseudo'))


def independent_fused_argmax(model, img_rgb, model_hw):
    """argmax(softmax(z_p) + 0.5 softmax(z_a)) at the image size, computed
    from the raw image and the network parts only."""
    import mmcv
    resized = mmcv.imresize(img_rgb[..., ::-1], model_hw[::-1])  # BGR, w-h
    x = torch.from_numpy(resized[..., ::-1].copy()).permute(2, 0, 1).float()
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None,
                                                                       None]
    seg = model.segmentor
    with torch.no_grad():
        zp, za = seg.decode_head(seg.backbone(x[None]))
    size = img_rgb.shape[:2]
    zp = F.interpolate(zp, size, mode='bilinear', align_corners=True)
    za = F.interpolate(za, size, mode='bilinear', align_corners=True)
    fused = (zp.softmax(1) + 0.5 * za.softmax(1))[0]
    top2 = fused.topk(2, dim=0).values
    return fused.argmax(0).numpy(), (top2[0] - top2[1]).numpy()


def _read(path):
    img = Image.open(path)
    assert img.mode == 'L'
    return np.array(img)


# ---------------------------------------------------------------------------
# configuration helpers
# ---------------------------------------------------------------------------
def test_inference_pipeline_and_target_cfg(tmp_path):
    pipe = inference_pipeline(TEST_PIPELINE)
    assert [t['type'] for t in pipe] == [
        'LoadImageFromFile', 'Resize', 'PackSegInputs'
    ]
    with pytest.raises(ValueError, match='RandomFlip'):
        inference_pipeline([dict(type='RandomFlip'),
                            dict(type='PackSegInputs')])
    cfg = _uda_config('root')
    ds = target_dataset_cfg(cfg)
    assert ds['type'] == 'CityscapesRawDataset' and ds['pipeline'] == pipe
    with pytest.raises(KeyError, match='dataset-key'):
        target_dataset_cfg(cfg, 'tgt')
    # a stage-II config: the wrapped target set
    cfg.train_dataloader.dataset = dict(
        type='PseudoLabelDataset', dataset=_target_cfg('root2'),
        pseudo_label_dir='x', pipeline=[])
    assert target_dataset_cfg(cfg)['data_root'] == 'root2'


def test_pseudo_label_path_naming():
    assert pseudo_label_path(
        'data/cs/leftImg8bit/train/a/a_0_1_leftImg8bit.png',
        'data/cs/leftImg8bit/train', 'out',
        '_leftImg8bit.png') == osp.join('out', 'a', 'a_0_1.png')
    assert pseudo_label_path('r/train/x.jpg', 'r/train', 'o',
                             None) == osp.join('o', 'x.png')
    with pytest.raises(ValueError, match='not inside'):
        pseudo_label_path('elsewhere/x.png', 'r/train', 'o', '.png')


# ---------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------
def test_generate_values_resolution_and_resume(model, target):
    out, dataset = target['out'], target['dataset']
    stats = generate_pseudo_labels(model, dataset, out, progress=False,
                                   meta=dict(config='cfg.py'))
    assert stats == dict(written=3, skipped=0, assigned=3, total=3)
    for sample in target['samples']:
        rel = osp.relpath(sample.img_path,
                          osp.join(target['root'], 'leftImg8bit', 'train'))
        path = osp.join(out, rel.replace('_leftImg8bit.png', '.png'))
        label = _read(path)
        h, w = sample.image.shape[:2]
        assert label.shape == (h, w)  # original resolution
        scale = min(64 / w, 32 / h)
        model_hw = (int(h * scale + 0.5), int(w * scale + 0.5))
        expected, gap = independent_fused_argmax(model, sample.image,
                                                 model_hw)
        ok = (label == expected) | (gap < 1e-5)  # exact up to float ties
        assert ok.all()
        assert len(np.unique(label)) > 1
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['count'] == 3 and meta['num_images'] == 3
    assert meta['config'] == 'cfg.py' and meta['fusion'] == 'prob'
    assert meta['tta'] is False and len(meta['classes']) == NUM_CLASSES

    # resume: nothing rewritten, files untouched
    pngs = sorted(
        osp.join(d, f) for d, _, fs in os.walk(out) for f in fs
        if f.endswith('.png'))
    assert len(pngs) == 3
    mtimes = {p: os.stat(p).st_mtime_ns for p in pngs}
    stats = generate_pseudo_labels(model, dataset, out, progress=False)
    assert stats['written'] == 0 and stats['skipped'] == 3
    assert {p: os.stat(p).st_mtime_ns for p in pngs} == mtimes
    os.remove(pngs[1])
    stats = generate_pseudo_labels(model, dataset, out, progress=False)
    assert stats['written'] == 1 and stats['skipped'] == 2
    assert not [f for _, _, fs in os.walk(out) for f in fs
                if f.endswith('.tmp')]


def test_generate_rank_split(model, target):
    out, dataset = target['out'], target['dataset']
    s0 = generate_pseudo_labels(model, dataset, out, rank=0, world_size=2,
                                progress=False)
    assert s0['assigned'] == 2 and s0['written'] == 2
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['count'] == 2  # rank 1 has not run yet
    s1 = generate_pseudo_labels(model, dataset, out, rank=1, world_size=2,
                                progress=False)
    assert s1['assigned'] == 1 and s1['written'] == 1
    assert generate_pseudo_labels(model, dataset, out,
                                  progress=False)['skipped'] == 3


def test_tta_flip_symmetric_image(model, tmp_path):
    root = str(tmp_path / 'cs')
    half = np.random.default_rng(1).integers(0, 256, (24, 20, 3), np.uint8)
    img = np.concatenate([half, half[:, ::-1]], axis=1)  # mirror-symmetric
    path, _ = formats.cityscapes_paths(root, 'train', 'c', 'c_0_0')
    formats.save_image(img, path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
    dataset = build_target_dataset(_uda_config(root, pipeline))
    data = pseudo_collate([dataset[0]])
    plain = pseudo_label_probs(model, data)
    flipped = pseudo_label_probs(model, data, flip=True)
    # the flip average equals the mean of both views computed by hand
    seg = model.segmentor
    x = (torch.from_numpy(img.copy()).permute(2, 0, 1).float() -
         torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    with torch.no_grad():
        zp, za = seg.decode_head(seg.backbone(x[None].flip(-1)))
    zp = F.interpolate(zp, (24, 40), mode='bilinear', align_corners=True)
    za = F.interpolate(za, (24, 40), mode='bilinear', align_corners=True)
    view2 = ((zp.softmax(1) + 0.5 * za.softmax(1)) / 1.5)[0].flip(-1)
    torch.testing.assert_close(flipped, (plain + view2) / 2)
    # ... and its labels are mirror-symmetric, like the image
    labels = flipped.argmax(0).numpy()
    np.testing.assert_array_equal(labels, labels[:, ::-1])
    # generation with --tta writes exactly these labels
    generate_pseudo_labels(model, dataset, str(tmp_path / 'p'), tta=True,
                           scales=(1.0, ), progress=False)
    np.testing.assert_array_equal(
        _read(str(tmp_path / 'p' / 'c' / 'c_0_0.png')), labels)
    # multi-scale views average too (shape at the original size)
    multi = pseudo_label_probs(model, data, scales=(1.0, 0.5), flip=True)
    assert multi.shape == (NUM_CLASSES, 24, 40)
    torch.testing.assert_close(multi.sum(0), torch.ones(24, 40))


def test_release_fusion(model, target):
    data = pseudo_collate([target['dataset'][0]])
    probs = pseudo_label_probs(model, data, fusion='logit')
    torch.testing.assert_close(probs.sum(0), torch.ones(probs.shape[1:]))
    with pytest.raises(ValueError, match='fusion'):
        pseudo_label_probs(model, data, fusion='mean')


def test_tool_end_to_end(model, target, tmp_path):
    """The command-line tool writes the same labels as the API."""
    ckpt = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    cfg = _uda_config(target['root'])
    cfg.default_scope = 'mmseg'
    cfg_path = str(tmp_path / 'stage1.py')
    cfg.dump(cfg_path)
    out = str(tmp_path / 'tool_out')
    env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'gen_pseudo_labels.py'), cfg_path, ckpt,
        '--out', out, '--device', 'cpu'
    ], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    generate_pseudo_labels(model, target['dataset'], target['out'],
                           progress=False)
    for rel in ('aachen/aachen_000000_000019.png',
                'aachen/aachen_000001_000019.png',
                'bremen/bremen_000000_000019.png'):
        np.testing.assert_array_equal(
            _read(osp.join(out, rel)), _read(osp.join(target['out'], rel)))
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['checkpoint'] == osp.abspath(ckpt) and meta['count'] == 3


# ---------------------------------------------------------------------------
# PseudoLabelDataset
# ---------------------------------------------------------------------------
def _pseudo_cfg(root, pseudo_dir):
    return dict(
        type='PseudoLabelDataset',
        dataset=_target_cfg(root),
        pseudo_label_dir=pseudo_dir,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadMappedAnnotations'),
            dict(type='PackSegInputs')
        ])


def test_pseudo_label_dataset_loads_pngs(target):
    out = target['out']
    written = {}
    for k, sample in enumerate(target['samples']):
        h, w = sample.image.shape[:2]
        label = random_ids((h, w), list(range(NUM_CLASSES)) + [255], seed=k)
        path = pseudo_label_path(
            sample.img_path, osp.join(target['root'], 'leftImg8bit/train'),
            out, '_leftImg8bit.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(label).save(path)
        written[sample.img_path] = label
    ds = DATASETS.build(_pseudo_cfg(target['root'], out))
    assert len(ds) == 3
    assert ds.metainfo['classes'] == target['dataset'].metainfo['classes']
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['label_mapping'] is None
        item = ds[i]
        gt = item['data_samples'].gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, written[info['img_path']])


def test_pseudo_label_dataset_errors(target, model):
    out = target['out']
    with pytest.raises(FileNotFoundError, match='does not exist'):
        DATASETS.build(_pseudo_cfg(target['root'], out))
    generate_pseudo_labels(model, target['dataset'], out, progress=False)
    DATASETS.build(_pseudo_cfg(target['root'], out))  # complete: fine
    os.remove(osp.join(out, 'aachen', 'aachen_000000_000019.png'))
    os.remove(osp.join(out, 'bremen', 'bremen_000000_000019.png'))
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(_pseudo_cfg(target['root'], out))
    msg = str(err.value)
    assert '2 of 3' in msg and 'gen_pseudo_labels' in msg
    assert osp.join(out, 'aachen', 'aachen_000000_000019.png') in msg
    # meta.json naming other classes
    generate_pseudo_labels(model, target['dataset'], out, progress=False)
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(dict(classes=['a', 'b']), f)
    with pytest.raises(ValueError, match='2 classes'):
        DATASETS.build(_pseudo_cfg(target['root'], out))
    with pytest.raises(TypeError, match="'target'"):
        DATASETS.build(
            dict(type='PseudoLabelDataset', dataset=dict(type='UDADataset'),
                 pseudo_label_dir=out, pipeline=[]))


# ---------------------------------------------------------------------------
# RectifiedPseudoLabelLoss
# ---------------------------------------------------------------------------
def reference_rectified(zp, za, y, aux_weight=0.0, ignore=255):
    """Float64 formula: mean over valid pixels of
    exp(-KL(pa||pp)) CE(zp, y) + KL(pa||pp) (+ w x the swapped term)."""
    size = y.shape[-2:]
    zp = F.interpolate(zp.double(), size, mode='bilinear', align_corners=True)
    za = F.interpolate(za.double(), size, mode='bilinear', align_corners=True)
    pp = torch.exp(zp) / torch.exp(zp).sum(1, keepdim=True)
    pa = torch.exp(za) / torch.exp(za).sum(1, keepdim=True)
    valid = y != ignore
    yc = torch.where(valid, y, torch.zeros_like(y))
    onehot = F.one_hot(yc, zp.shape[1]).permute(0, 3, 1, 2).double()

    def term(p_self, p_other):
        kl = (p_other * torch.log(p_other / p_self)).sum(1)
        ce = -(onehot * torch.log(p_self)).sum(1)
        return torch.exp(-kl) * ce + kl

    per_pixel = term(pp, pa) + aux_weight * term(pa, pp)
    return (per_pixel * valid).sum() / valid.sum()


@pytest.mark.parametrize('aux_weight', [0.0, 0.5])
def test_rectified_loss_value_and_gradient(aux_weight):
    gen = torch.Generator().manual_seed(0)
    zp = (2 * torch.randn(2, 5, 4, 6, generator=gen)).requires_grad_()
    za = (2 * torch.randn(2, 5, 7, 9, generator=gen)).requires_grad_()
    y = torch.randint(0, 5, (2, 7, 9), generator=gen)
    y[0, :2] = 255
    loss_fn = MODELS.build(
        dict(type='RectifiedPseudoLabelLoss', aux_weight=aux_weight,
             loss_weight=2.0))
    loss = loss_fn(zp, za, y)
    assert loss.dtype == torch.float32
    loss.backward()

    zp64 = zp.detach().double().requires_grad_()
    za64 = za.detach().double().requires_grad_()
    ref = 2.0 * reference_rectified(zp64, za64, y, aux_weight)
    ref.backward()
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(zp.grad.double(), zp64.grad, rtol=1e-4,
                               atol=1e-7)
    torch.testing.assert_close(za.grad.double(), za64.grad, rtol=1e-4,
                               atol=1e-7)
    assert loss_fn.loss_name == 'loss_rect'


def test_rectified_loss_edge_cases():
    loss_fn = MODELS.build(dict(type='RectifiedPseudoLabelLoss'))
    z = torch.randn(1, 3, 4, 4, requires_grad=True)
    # identical heads: D = 0, the loss is the plain cross-entropy
    y = torch.randint(0, 3, (1, 4, 4))
    torch.testing.assert_close(loss_fn(z, z, y), F.cross_entropy(z, y))
    # all pixels ignored: zero, still differentiable
    out = loss_fn(z, z, torch.full((1, 1, 4, 4), 255))
    out.backward()
    assert out.item() == 0.0
    with pytest.raises(ValueError, match='pseudo labels'):
        loss_fn(z, z, torch.full((1, 4, 4), 7))


# ---------------------------------------------------------------------------
# configs and one training step
# ---------------------------------------------------------------------------
def test_synthetic_stage2_config_trains_one_step(target, model):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'synthetic', 'mrnet_stage2.py'))
    assert cfg.load_from.startswith('work_dirs/synthetic_mrnet/')
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.type == 'PseudoLabelDataset'
    assert ds_cfg.pseudo_label_dir == 'work_dirs/pseudo/synthetic_mrnet'
    assert cfg.model.memory_reg_on == 'labelled'
    assert cfg.model.memory_reg_start_iter == 0
    assert cfg.model.memory_reg.mode == 'symmetric'
    assert cfg.model.get('adversary') is None

    generate_pseudo_labels(model, target['dataset'], target['out'],
                           progress=False)
    ds_cfg.dataset.data_root = target['root']
    ds_cfg.pseudo_label_dir = target['out']
    ds_cfg.pipeline[2]['scale'] = (40, 24)  # tiny images: small crops
    ds_cfg.pipeline[3]['crop_size'] = (16, 24)
    dataset = DATASETS.build(ds_cfg)
    cfg.model.data_preprocessor['size'] = (16, 24)
    torch.manual_seed(0)
    stage2 = MODELS.build(cfg.model)
    assert not stage2.uses_target
    from mmengine.optim import OptimWrapper
    wrapper = OptimWrapper(
        torch.optim.SGD(stage2.segmentor.parameters(), lr=1e-3))
    stage2.train()
    logs = stage2.train_step(pseudo_collate([dataset[0], dataset[1]]),
                             wrapper)
    assert 'tgt.loss_mr' in logs and 'src.decode.loss_ce' in logs
    assert all(torch.isfinite(torch.as_tensor(v)) for v in logs.values())


@pytest.mark.parametrize('name', [
    'gta2cs_stage2', 'synthia2cs_stage2', 'cs2robotcar_stage2',
    'gta2cs_stage2_release', 'synthia2cs_stage2_release',
    'cs2robotcar_stage2_release'
])
def test_paper_stage2_configs(name):
    stage1 = name.split('_')[0]
    if not osp.exists(osp.join(REPO, 'configs', 'mrnet', stage1 + '.py')):
        pytest.skip(f'stage-I config configs/mrnet/{stage1}.py not there yet')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mrnet', name + '.py'))
    assert cfg.train_dataloader.dataset.type == 'PseudoLabelDataset'
    assert cfg.train_dataloader.dataset.dataset.get('with_labels') is False
    assert cfg.train_cfg.max_iters == 25000
    assert cfg.model.get('adversary') is None
    if name.endswith('release'):
        assert cfg.model.get('memory_reg') is None
        assert cfg.train_dataloader.batch_size == 9
        assert cfg.optim_wrapper.segmentor.optimizer.lr == 1e-4
        assert cfg.model.segmentor.decode_head.dropout_ratio == 0.2
    else:
        assert cfg.model.memory_reg.loss_weight == 0.1
        assert cfg.model.memory_reg_on == 'labelled'
