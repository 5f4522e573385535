"""Tests of MRNet stage II: pseudo-label generation, PseudoLabelDataset,
RectifiedPseudoLabelLoss and the stage-II configs."""
import json
import os
import os.path as osp
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
from helpers.pseudo_label_tool import (gen_pseudo_labels_cmd,  # noqa: E402
                                       run_tool, save_stage1)

import mmseg_uda  # noqa: E402,F401
from mmseg.registry import DATASETS, MODELS  # noqa: E402
from mmseg_uda.apis import (TargetImages,  # noqa: E402
                            build_target_dataset, generate_pseudo_labels,
                            inference_pipeline, init_model,
                            pseudo_label_probs, target_dataset_cfg,
                            tta_transform)
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


def tiny_model_cfg(fuse_mode='prob'):
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
                align_corners=True, fuse_mode=fuse_mode),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')))


def confident_model(seed, scale=1000.):
    """The tiny network with random weights of ``seed`` and confident,
    spatially varying predictions: the classifiers' weights multiplied by
    ``scale`` (logits of std ~2 for 1000) and their (spatially constant)
    biases zeroed."""
    torch.manual_seed(seed)
    m = MODELS.build(tiny_model_cfg())
    with torch.no_grad():
        for conv in list(m.segmentor.decode_head.conv_seg.convs) + list(
                m.segmentor.decode_head.conv_seg_aux.convs):
            conv.weight.mul_(scale)
            conv.bias.zero_()
    return m.eval()


@pytest.fixture(scope='module')
def model():
    return confident_model(0)


@pytest.fixture(scope='module')
def logit_model(model):
    """The same network with the release's fusion, softmax(z_p + 0.5 z_a)."""
    m = MODELS.build(tiny_model_cfg(fuse_mode='logit'))
    m.load_state_dict(model.state_dict())
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


def network_logits(model, img_rgb):
    """Primary and auxiliary logits of an RGB uint8 image, from the
    normalisation constants and the network parts only."""
    x = torch.from_numpy(np.ascontiguousarray(img_rgb)).permute(2, 0, 1)
    x = (x.float() - torch.tensor(MEAN)[:, None, None]) / torch.tensor(
        STD)[:, None, None]
    seg = model.segmentor
    with torch.no_grad():
        return seg.decode_head(seg.backbone(x[None]))


def fused_reference(model, img_rgb, size, fusion='prob', flip=False):
    """Fused probabilities (C, H, W) at ``size`` of one view: logits resized
    straight to ``size`` (align_corners=True), then
    (softmax(zp) + 0.5 softmax(za)) / 1.5 or softmax(zp + 0.5 za)."""
    view = img_rgb[:, ::-1] if flip else img_rgb
    zp, za = (F.interpolate(z.double(), size, mode='bilinear',
                            align_corners=True)
              for z in network_logits(model, view))
    if fusion == 'prob':
        p = (zp.softmax(1) + 0.5 * za.softmax(1)) / 1.5
    else:
        p = (zp + 0.5 * za).softmax(1)
    p = p[0].float()
    return p.flip(-1) if flip else p


def independent_fused_argmax(model, img_rgb, model_hw, fusion='prob'):
    """argmax(softmax(z_p) + 0.5 softmax(z_a)) at the image size, computed
    from the raw image and the network parts only."""
    import cv2
    resized = cv2.resize(img_rgb, model_hw[::-1],
                         interpolation=cv2.INTER_LINEAR)
    fused = fused_reference(model, resized, img_rgb.shape[:2], fusion)
    top2 = fused.topk(2, dim=0).values
    return fused.argmax(0).numpy(), (top2[0] - top2[1]).numpy(), fused


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
        expected, gap, probs = independent_fused_argmax(
            model, sample.image, model_hw)
        ok = (label == expected) | (gap < 1e-5)  # exact up to float ties
        assert ok.all()
        idx = [dataset.get_data_info(i)['img_path']
               for i in range(len(dataset))].index(sample.img_path)
        torch.testing.assert_close(
            pseudo_label_probs(model, pseudo_collate([dataset[idx]])), probs,
            rtol=1e-5, atol=1e-5)
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
    stats = generate_pseudo_labels(model, dataset, out, progress=False,
                                   meta=dict(config='cfg.py'))
    assert stats['written'] == 0 and stats['skipped'] == 3
    assert {p: os.stat(p).st_mtime_ns for p in pngs} == mtimes
    os.remove(pngs[1])
    stats = generate_pseudo_labels(model, dataset, out, progress=False,
                                   meta=dict(config='cfg.py'))
    assert stats['written'] == 1 and stats['skipped'] == 2
    assert not [f for _, _, fs in os.walk(out) for f in fs
                if f.endswith('.tmp')]


@pytest.fixture(scope='module')
def other_model():
    """A second stage-I model: same architecture, other weights."""
    return confident_model(1)


def _files(folder):
    return {
        osp.relpath(osp.join(d, f), folder): open(osp.join(d, f), 'rb').read()
        for d, _, fs in os.walk(folder) for f in fs
    }


@pytest.mark.parametrize('change', [
    dict(model='other'), dict(tta=True), dict(model='logit'),
    dict(tta=True, scales=(1.0, 1.25)),
    dict(class_portion=0.5), dict(meta=dict(checkpoint='other.pth'))
])
def test_rerun_with_other_settings_is_refused(model, other_model,
                                              logit_model, target, change):
    """Issue 12.5: a rerun into a folder made with another checkpoint / TTA /
    fusion / mode writes nothing and leaves meta.json alone; --overwrite
    regenerates every label with the new settings."""
    out, dataset = target['out'], target['dataset']
    generate_pseudo_labels(model, dataset, out, progress=False,
                           meta=dict(checkpoint='stage1.pth'))
    before = _files(out)
    kwargs = dict(meta=dict(checkpoint='stage1.pth'))
    kwargs.update({k: v for k, v in change.items() if k != 'model'})
    new_model = dict(other=other_model, logit=logit_model).get(
        change.get('model'), model)
    with pytest.raises(ValueError, match='other settings') as err:
        generate_pseudo_labels(new_model, dataset, out, progress=False,
                               **kwargs)
    assert 'overwrite' in str(err.value)
    assert _files(out) == before  # record and labels untouched
    # --overwrite: every label regenerated, the record names the new run
    generate_pseudo_labels(new_model, dataset, out, progress=False,
                           overwrite=True, **kwargs)
    fresh = target['out'] + '_fresh'
    generate_pseudo_labels(new_model, dataset, fresh, progress=False,
                           **kwargs)
    pngs = {k: v for k, v in _files(fresh).items() if k.endswith('.png')}
    assert {k: v for k, v in _files(out).items() if k.endswith('.png')} \
        == pngs
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta == json.load(open(osp.join(fresh, 'meta.json')))
    # ... and a rerun with the new settings resumes
    stats = generate_pseudo_labels(new_model, dataset, out, progress=False,
                                   **kwargs)
    assert stats['written'] == 0 and stats['skipped'] == 3


def test_labels_without_record_or_legacy_record(model, other_model, target):
    out, dataset = target['out'], target['dataset']
    generate_pseudo_labels(model, dataset, out, progress=False,
                           meta=dict(checkpoint='a.pth'))
    meta_path = osp.join(out, 'meta.json')
    meta = json.load(open(meta_path))
    # labels of unknown origin (interrupted run of an older version)
    os.remove(meta_path)
    with pytest.raises(ValueError, match='no meta.json'):
        generate_pseudo_labels(model, dataset, out, progress=False,
                               meta=dict(checkpoint='a.pth'))
    assert not osp.exists(meta_path)
    # a garbage record
    with open(meta_path, 'w') as f:
        f.write('{not json')
    with pytest.raises(ValueError, match='unreadable'):
        generate_pseudo_labels(model, dataset, out, progress=False,
                               meta=dict(checkpoint='a.pth'))
    # a record of the previous version (no weights fingerprint): compared
    # on what it records
    legacy = {k: v for k, v in meta.items()
              if k not in ('weights_sha256', 'fuse_weight',
                           'class_balanced')}
    with open(meta_path, 'w') as f:
        json.dump(legacy, f)
    with pytest.raises(ValueError, match="checkpoint: 'a.pth' -> 'b.pth'"):
        generate_pseudo_labels(other_model, dataset, out, progress=False,
                               meta=dict(checkpoint='b.pth'))
    stats = generate_pseudo_labels(model, dataset, out, progress=False,
                                   meta=dict(checkpoint='a.pth'))
    assert stats['skipped'] == 3
    assert json.load(open(meta_path)) == meta


@pytest.mark.parametrize('damage', ['truncate', 'empty', 'rgb'])
def test_damaged_png_is_regenerated(model, target, damage):
    """Issue 12.5: a truncated / empty / wrong-mode pseudo label is not
    skipped as done: the rerun replaces it."""
    out, dataset = target['out'], target['dataset']
    generate_pseudo_labels(model, dataset, out, progress=False)
    before = _files(out)
    rel = 'bremen/bremen_000000_000019.png'
    path = osp.join(out, rel)
    if damage == 'truncate':
        with open(path, 'wb') as f:
            f.write(before[rel][:len(before[rel]) // 2])
    elif damage == 'empty':
        open(path, 'wb').close()
    else:
        Image.fromarray(np.zeros((24, 40, 3), np.uint8)).save(path)
    stats = generate_pseudo_labels(model, dataset, out, progress=False)
    assert stats['written'] == 1 and stats['skipped'] == 2
    assert _files(out)[rel] == before[rel]


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


def _symmetric_target(tmp_path):
    root = str(tmp_path / 'cs')
    half = np.random.default_rng(1).integers(0, 256, (24, 20, 3), np.uint8)
    img = np.concatenate([half, half[:, ::-1]], axis=1)  # mirror-symmetric
    path, _ = formats.cityscapes_paths(root, 'train', 'c', 'c_0_0')
    formats.save_image(img, path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
    return img, build_target_dataset(_uda_config(root, pipeline))


def _tta_batch(dataset, scales):
    views = TargetImages(dataset, [0], tta_transform(
        dataset.pipeline.transforms[-1], scales))
    return pseudo_collate([views[0]])


def test_tta_flip_symmetric_image(model, tmp_path):
    img, dataset = _symmetric_target(tmp_path)
    plain = pseudo_label_probs(model, pseudo_collate([dataset[0]]))
    flipped = pseudo_label_probs(model, _tta_batch(dataset, (1.0, )),
                                 tta=True)
    # the flip average equals the mean of both views computed by hand
    view2 = fused_reference(model, img, (24, 40), flip=True)
    torch.testing.assert_close(flipped, (plain + view2) / 2)
    torch.testing.assert_close(
        plain, fused_reference(model, img, (24, 40)), rtol=1e-5, atol=1e-6)
    # ... and its labels are mirror-symmetric, like the image
    labels = flipped.argmax(0).numpy()
    np.testing.assert_array_equal(labels, labels[:, ::-1])
    # generation with --tta writes exactly these labels
    generate_pseudo_labels(model, dataset, str(tmp_path / 'p'), tta=True,
                           scales=(1.0, ), progress=False)
    np.testing.assert_array_equal(
        _read(str(tmp_path / 'p' / 'c' / 'c_0_0.png')), labels)


@pytest.mark.parametrize('fusion', ['prob', 'logit'])
def test_multiscale_tta_values(model, logit_model, tmp_path, fusion):
    """Views scales x flip: the mean over views of the fused probabilities
    of the image rescaled by s (bilinear, cv2; size round(s * (h, w))),
    flipped or not, resized straight to the original size, un-flipped."""
    import cv2
    net = logit_model if fusion == 'logit' else model
    img, dataset = _symmetric_target(tmp_path)
    scales = (1.0, 0.5, 1.25)
    probs = pseudo_label_probs(net, _tta_batch(dataset, scales), tta=True)
    views = []
    for s in scales:
        size = (int(40 * s + 0.5), int(24 * s + 0.5))
        scaled = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        for flip in (False, True):
            views.append(fused_reference(net, scaled, (24, 40), fusion, flip))
    expected = torch.stack(views).mean(0)
    torch.testing.assert_close(probs, expected, rtol=1e-5, atol=1e-5)
    # the views differ: a wrong view set would not match
    assert (views[0] - views[2]).abs().max() > 0.05
    assert (views[0] - views[1]).abs().max() > 0.05
    out = str(tmp_path / 'p')
    generate_pseudo_labels(net, dataset, out, tta=True, scales=scales,
                           progress=False)
    top2 = expected.topk(2, dim=0).values
    ok = (_read(osp.join(out, 'c', 'c_0_0.png')) == expected.argmax(
        0).numpy()) | ((top2[0] - top2[1]).numpy() < 1e-5)
    assert ok.all()


def test_release_fusion_values(model, logit_model, target):
    """fuse_mode='logit': softmax(z_p + 0.5 z_a) of the logits resized to
    the image size, against the formula; differs from the paper's."""
    dataset = target['dataset']
    for i, sample in enumerate(target['samples']):
        assert dataset.get_data_info(i)['img_path'] == sample.img_path
        h, w = sample.image.shape[:2]
        scale = min(64 / w, 32 / h)
        model_hw = (int(h * scale + 0.5), int(w * scale + 0.5))
        data = pseudo_collate([dataset[i]])
        probs = pseudo_label_probs(logit_model, data)
        ref = independent_fused_argmax(logit_model, sample.image, model_hw,
                                       'logit')[2]
        torch.testing.assert_close(probs, ref, rtol=1e-5, atol=1e-5)
        paper = pseudo_label_probs(model, data)
        assert (probs - paper).abs().max() > 0.05


def test_init_model_from_uda_checkpoint(model, tmp_path):
    """mmseg's init_model builds the student; the checkpoint's segmentor.*
    weights are loaded; --fusion sets the head's fuse_mode; a checkpoint
    without the network's weights is an error naming it."""
    ckpt = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    cfg = _uda_config('unused')
    student = init_model(cfg, ckpt, fusion='logit')
    assert type(student).__name__ == 'EncoderDecoder'
    assert student.decode_head.fuse_mode == 'logit' and not student.training
    ref = model.segmentor.state_dict()
    for k, v in student.state_dict().items():
        assert torch.equal(v, ref[k]), k
    assert init_model(cfg, ckpt).decode_head.fuse_mode == 'prob'
    bad = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'x': torch.zeros(1)}), bad)
    with pytest.raises(RuntimeError, match='other.pth'):
        init_model(cfg, bad)


@pytest.mark.slow
def test_tool_end_to_end(model, other_model, target, tmp_path):
    """The command-line tool writes the same labels as the API."""
    cfg_path, ckpt = save_stage1(model, _uda_config(target['root']),
                                 tmp_path)
    out = str(tmp_path / 'tool_out')
    run_tool(gen_pseudo_labels_cmd(cfg_path, ckpt, out))
    generate_pseudo_labels(model, target['dataset'], target['out'],
                           progress=False)
    for rel in ('aachen/aachen_000000_000019.png',
                'aachen/aachen_000001_000019.png',
                'bremen/bremen_000000_000019.png'):
        np.testing.assert_array_equal(
            _read(osp.join(out, rel)), _read(osp.join(target['out'], rel)))
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['checkpoint'] == osp.abspath(ckpt) and meta['count'] == 3

    # issue 12.5: the same folder with another checkpoint is refused, with
    # meta.json untouched; --overwrite regenerates
    before = _files(out)
    _, ckpt2 = save_stage1(other_model, _uda_config(target['root']),
                           tmp_path, 'stage1_other')
    cmd = gen_pseudo_labels_cmd(cfg_path, ckpt2, out)
    proc = run_tool(cmd, check=False)
    assert proc.returncode != 0
    assert 'other settings' in proc.stderr and 'checkpoint' in proc.stderr
    assert _files(out) == before
    run_tool(cmd + ['--overwrite'])
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['checkpoint'] == osp.abspath(ckpt2)
    assert meta['fusion'] == 'prob' and meta['tta'] is False
    generate_pseudo_labels(other_model, target['dataset'],
                           target['out'] + '2', progress=False)
    for rel in ('aachen/aachen_000000_000019.png',
                'bremen/bremen_000000_000019.png'):
        np.testing.assert_array_equal(
            _read(osp.join(out, rel)), _read(osp.join(target['out'] + '2',
                                                      rel)))


@pytest.mark.slow
def test_tool_release_options(logit_model, target, tmp_path):
    """--fusion logit --scales 1.0 1.25 (the release's stage II): the head's
    fuse_mode and the TTA views x flip, as the API gives them."""
    cfg_path, ckpt = save_stage1(logit_model, _uda_config(target['root']),
                                 tmp_path)
    out = str(tmp_path / 'tool_out')
    run_tool(gen_pseudo_labels_cmd(cfg_path, ckpt, out, '--fusion', 'logit',
                                   '--scales', '1.0', '1.25',
                                   '--num-workers', '0'))
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['fusion'] == 'logit' and meta['tta'] is True
    assert meta['scales'] == [1.0, 1.25] and meta['flip'] is True
    api = str(tmp_path / 'api')
    generate_pseudo_labels(logit_model, target['dataset'], api, tta=True,
                           scales=(1.0, 1.25), progress=False)
    for rel in ('aachen/aachen_000000_000019.png',
                'bremen/bremen_000000_000019.png'):
        np.testing.assert_array_equal(_read(osp.join(out, rel)),
                                      _read(osp.join(api, rel)))


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
@pytest.mark.slow
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
    from mmseg_uda.engine.optimizers import GuardedOptimWrapper
    wrapper = GuardedOptimWrapper(
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
    assert osp.exists(osp.join(REPO, 'configs', 'mrnet', stage1 + '.py')), \
        f'stage-I config configs/mrnet/{stage1}.py is missing'
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mrnet', name + '.py'))
    assert cfg.train_dataloader.dataset.type == 'PseudoLabelDataset'
    assert cfg.train_dataloader.dataset.dataset.get('with_labels') is False
    assert cfg.train_cfg.max_iters == 25000
    assert cfg.model.get('adversary') is None
    # class balance of the paper (CBST's policy) kept from stage I
    head = cfg.model.segmentor.decode_head
    assert head.loss_decode.type == 'ClassBalancedCrossEntropyLoss'
    assert head.loss_decode.num_classes == head.num_classes
    if name.endswith('release'):
        assert cfg.model.get('memory_reg') is None
        assert cfg.train_dataloader.batch_size == 9
        assert cfg.optim_wrapper.segmentor.optimizer.lr == 1e-4
        assert cfg.optim_wrapper.segmentor.optimizer.nesterov is True
        assert cfg.model.segmentor.decode_head.dropout_ratio == 0.2
        # release train_ft.py: rectified loss, --lambda-seg 0.5,
        # --class-balance --often-balance --max-value 7, --only-hard-label 80
        loss = cfg.model.labelled_loss
        assert loss.type == 'RectifiedPseudoLabelLoss'
        assert loss.aux_weight == 0.5 and loss.hard_percentile == 80
        assert loss.class_balance == dict(
            num_classes=head.num_classes, max_weight=7.0,
            min_pixels=64 * 64, often_balance=True)
        warm, poly = cfg.param_scheduler
        assert (warm.type, warm.start_factor, warm.end) == ('LinearLR', 0.1,
                                                            5000)
        assert (poly.type, poly.end, poly.power) == ('PolyLR', 100000, 0.9)
        # release pseudo labels: scales 1.0 + 1.25, flips, summed softmax
        text = open(osp.join(REPO, 'configs', 'mrnet', name + '.py')).read()
        assert '--fusion logit --tta --scales 1.0 1.25' in text
        assert cfg.train_dataloader.dataset.pseudo_label_dir in text
    else:
        assert cfg.model.memory_reg.loss_weight == 0.1
        assert cfg.model.memory_reg_on == 'labelled'
