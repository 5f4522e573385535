# Copyright (c) mmseg_uda contributors. All rights reserved.
"""From a trained UDA run to a model people use, end to end.

One tiny SAC run (2 iterations on a 4-image synthetic benchmark, teacher
averaged every iteration with momentum 0.5 so that it differs from the
student) with a validation at iteration 2 feeds every test:

- validation logs the teacher's mIoU and the label-free signals, checked
  against ``tools/test.py --model teacher`` and a float64 recomputation;
- ``tools/export_model.py`` (student and teacher): the exported model's
  predictions through ``MMSegInferencer`` and ``init_model`` +
  ``inference_model`` equal ``tools/test.py``'s, pixel for pixel;
- ``tools/infer.py`` on the exported folder and on the training config +
  checkpoint, with an unreadable file in the input folder, and with TTA.
"""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from helpers.train_runs import (LOADERS, PY, ROOT, env, load,  # noqa: E402
                                make_bench, train)

# trains a SAC run and runs the tools in subprocesses
pytestmark = pytest.mark.slow

SAC_OPTIONS = LOADERS + [
    'train_dataloader.batch_size=1', 'train_cfg.max_iters=2',
    'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
    'load_from=None', 'model.teacher.interval=1', 'model.teacher.momentum=0.5',
    'model.self_training.views.num_views=2', 'randomness.seed=0'
]
VAL_IMAGES = 'data/synthetic/cityscapes/leftImg8bit/val/*/*.png'
TARGET_TRAIN = 'data/synthetic/cityscapes/leftImg8bit/train/*/*.png'


def tool(name, *args, cwd, check=True):
    proc = subprocess.run([PY, osp.join(ROOT, 'tools', name)] + list(args),
                          cwd=cwd, env=env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout[-6000:]
    return proc


@pytest.fixture(scope='module')
def sac(tmp_path_factory):
    root = make_bench(str(tmp_path_factory.mktemp('export_bench')))
    work = osp.join(root, 'work', 'sac')
    train(osp.join(ROOT, 'configs', 'synthetic', 'sac.py'), work, root,
          SAC_OPTIONS)
    out = dict(root=root, work=work, config=osp.join(work, 'sac.py'),
               ckpt=osp.join(work, 'iter_2.pth'))
    for net in ('student', 'teacher'):
        tool('export_model.py', out['config'], out['ckpt'],
             osp.join(root, f'exp_{net}'), '--model', net, cwd=root)
        tool('test.py', out['config'], out['ckpt'], '--model', net,
             '--out', osp.join(root, f'pred_{net}'), '--json-out',
             osp.join(root, f'metrics_{net}.json'), '--work-dir',
             osp.join(root, 'work', f'test_{net}'), cwd=root)
    return out


def read_png(path):
    return np.array(Image.open(path))


def pred_of(sac, net, img):
    stem = osp.splitext(osp.basename(img))[0]
    return read_png(osp.join(sac['root'], f'pred_{net}', stem + '.png'))


def last_val_record(work):
    (path, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if 'mIoU' in r][-1]


def test_exported_files_hold_one_network_in_mmseg_layout(sac):
    ref = load(sac['ckpt'])['state_dict']
    for net, prefix in (('student', 'segmentor.'),
                        ('teacher', 'teacher.module.')):
        ckpt = torch.load(osp.join(sac['root'], f'exp_{net}', 'model.pth'),
                          map_location='cpu', weights_only=True)
        sd = ckpt['state_dict']
        assert set(ckpt) == {'state_dict', 'meta'}  # no optimizer, no hub
        assert sd.keys() == {k[len(prefix):] for k in ref
                             if k.startswith(prefix)}
        for k, v in sd.items():
            assert torch.equal(v, ref[prefix + k]), k
        assert any(k.startswith('decode_head.conv_seg_aux') for k in sd)
        assert not any(k.startswith(('adversary', 'teacher', 'self_training',
                                     'segmentor')) for k in sd)
        meta = ckpt['meta']['dataset_meta']
        assert len(meta['classes']) == len(meta['palette']) == 19
        assert meta['classes'][0] == 'road'
        assert meta['palette'][0] == [128, 64, 128]
    # the two networks differ (teacher = EMA, momentum 0.5)
    a = torch.load(osp.join(sac['root'], 'exp_student', 'model.pth'),
                   weights_only=True)['state_dict']
    b = torch.load(osp.join(sac['root'], 'exp_teacher', 'model.pth'),
                   weights_only=True)['state_dict']
    assert not torch.equal(a['decode_head.conv_seg.convs.0.weight'],
                           b['decode_head.conv_seg.convs.0.weight'])


def test_exported_config_is_a_plain_mmseg_config(sac):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(sac['root'], 'exp_student', 'config.py'))
    assert cfg.model.type == 'EncoderDecoder'
    assert cfg.model.data_preprocessor.type == 'SegDataPreProcessor'
    assert cfg.model.decode_head.type == 'DualDeepLabV2Head'
    # the dual head is ours: the plugin is imported by the config
    assert cfg.custom_imports['imports'] == ['mmseg_uda']
    types = [t['type'] for t in cfg.test_pipeline]
    assert types == ['LoadImageFromFile', 'Resize', 'PackSegInputs']
    assert cfg.test_dataloader.dataset.pipeline == cfg.test_pipeline


def test_exported_predictions_equal_test_py(sac):
    """MMSegInferencer and init_model + inference_model on the exported
    student / teacher give tools/test.py's predictions, pixel for pixel."""
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    imgs = sorted(glob.glob(osp.join(sac['root'], VAL_IMAGES)))
    assert len(imgs) == 2
    differ = 0
    for net in ('student', 'teacher'):
        d = osp.join(sac['root'], f'exp_{net}')
        inferencer = MMSegInferencer(
            model=osp.join(d, 'config.py'),
            weights=osp.join(d, 'model.pth'), device='cpu')
        model = init_model(osp.join(d, 'config.py'),
                           osp.join(d, 'model.pth'), device='cpu')
        assert model.dataset_meta['classes'][0] == 'road'
        for img in imgs:
            ref = pred_of(sac, net, img)
            a = inferencer(img)['predictions']
            b = inference_model(model, img).pred_sem_seg.data[0].numpy()
            assert a.shape == ref.shape == b.shape
            np.testing.assert_array_equal(a, ref)
            np.testing.assert_array_equal(b, ref)
        differ += sum(
            int((pred_of(sac, 'student', i) != pred_of(sac, 'teacher', i)
                 ).sum()) for i in imgs)
    # test.py --model teacher evaluated another network than the student
    assert differ > 0


def test_validation_logs_teacher_miou(sac):
    record = last_val_record(sac['work'])
    with open(osp.join(sac['root'], 'metrics_teacher.json')) as f:
        teacher = json.load(f)
    with open(osp.join(sac['root'], 'metrics_student.json')) as f:
        student = json.load(f)
    assert record['step'] == 2
    assert record['mIoU'] == pytest.approx(student['mIoU'], abs=1e-6)
    assert record['teacher.mIoU'] == pytest.approx(teacher['mIoU'],
                                                   abs=1e-6)
    assert record['teacher.aAcc'] == pytest.approx(teacher['aAcc'],
                                                   abs=1e-6)
    assert teacher['aAcc'] != student['aAcc']


@torch.no_grad()
def _signals(student, teacher, imgs):
    """max-prob, normalised entropy and disagreements, float64."""
    from mmseg.apis.utils import _preprare_data
    sums, pixels = {}, 0
    for img in imgs:
        data, _ = _preprare_data(img, student)
        inputs = student.data_preprocessor(data, False)['inputs']
        size = inputs.shape[-2:]
        out = {}
        for name, net in (('s', student), ('t', teacher)):
            zp, za = net.decode_head.forward(net.extract_feat(inputs))
            zp = F.interpolate(zp.double(), size, mode='bilinear',
                               align_corners=True)
            za = F.interpolate(za.double(), size, mode='bilinear',
                               align_corners=True)
            p = torch.softmax(zp, 1) + 0.5 * torch.softmax(za, 1)
            out[name] = (p / 1.5, zp.argmax(1), za.argmax(1))
        p = out['s'][0]
        n = p.shape[-2] * p.shape[-1]
        vals = dict(
            max_prob=p.max(1).values.mean(),
            entropy=(-(p * p.log()).sum(1) / math.log(19)).mean(),
            head_disagreement=(out['s'][1] != out['s'][2]).double().mean(),
            teacher_disagreement=(p.argmax(1) !=
                                  out['t'][0].argmax(1)).double().mean())
        for k, v in vals.items():
            sums[k] = sums.get(k, 0.) + float(v) * n
        pixels += n
    return {k: v / pixels for k, v in sums.items()}


def test_validation_logs_label_free_signals(sac):
    from mmseg.apis import init_model
    record = last_val_record(sac['work'])
    nets = [
        init_model(osp.join(sac['root'], f'exp_{n}', 'config.py'),
                   osp.join(sac['root'], f'exp_{n}', 'model.pth'), 'cpu')
        for n in ('student', 'teacher')
    ]
    # num_images=8 >= the 4 target training images: all of them
    imgs = sorted(glob.glob(osp.join(sac['root'], TARGET_TRAIN)))
    assert len(imgs) == 4
    expected = _signals(*nets, imgs)
    for k, v in expected.items():
        assert record[f'proxy.{k}'] == pytest.approx(v, abs=1e-5), k
    assert 0 < record['proxy.teacher_disagreement'] < 1


def test_infer_tool_on_exported_model_and_training_checkpoint(sac):
    root = sac['root']
    src = osp.join(root, 'own_images')
    os.makedirs(osp.join(src, 'cam1'), exist_ok=True)
    imgs = sorted(glob.glob(osp.join(root, VAL_IMAGES)))
    for i, img in enumerate(imgs):
        dst = osp.join(src, 'cam1' if i else '', f'im{i}.png')
        Image.open(img).save(dst)
    with open(osp.join(src, 'broken.png'), 'wb') as f:
        f.write(b'not an image')
    out = osp.join(root, 'infer_exported')
    proc = tool('infer.py', osp.join(root, 'exp_teacher'), src, '--out', out,
                cwd=root, check=False)
    # the broken file is named, the others are segmented, exit status 1
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert 'broken.png' in proc.stdout
    assert '2 of 3 images segmented' in proc.stdout
    palette = np.array(torch.load(
        osp.join(root, 'exp_teacher', 'model.pth'),
        weights_only=True)['meta']['dataset_meta']['palette'], np.uint8)
    for i, img in enumerate(imgs):
        rel = osp.join('cam1' if i else '', f'im{i}.png')
        label_png = Image.open(osp.join(out, 'labels', rel))
        assert label_png.mode == 'P'
        label = np.array(label_png)
        np.testing.assert_array_equal(label, pred_of(sac, 'teacher', img))
        png_pal = np.array(label_png.getpalette()[:19 * 3]).reshape(19, 3)
        np.testing.assert_array_equal(png_pal, palette)
        ov = read_png(osp.join(out, 'overlays', rel)).astype(np.float64)
        rgb = read_png(img).astype(np.float64)
        np.testing.assert_allclose(ov, (rgb + palette[label]) / 2, atol=0.51)
    # training config + checkpoint, --model teacher: same labels
    out2 = osp.join(root, 'infer_training')
    tool('infer.py', sac['config'], sac['ckpt'],
         osp.join(src, 'cam1', '*.png'), '--out', out2, '--model',
         'teacher', cwd=root)
    np.testing.assert_array_equal(
        read_png(osp.join(out2, 'labels', 'im1.png')),
        pred_of(sac, 'teacher', imgs[1]))


def test_infer_tta_averages_flipped_softmax(sac):
    """--tta --scales 1.0: argmax of softmax(s(x)) + flip(softmax(s(flip
    x))), s the model's per-class scores, recomputed here."""
    from mmseg.apis import inference_model, init_model
    root = sac['root']
    img = sorted(glob.glob(osp.join(root, VAL_IMAGES)))[0]
    out = osp.join(root, 'infer_tta')
    tool('infer.py', osp.join(root, 'exp_student'), img, '--out', out,
         '--tta', '--scales', '1.0', cwd=root)
    label = read_png(osp.join(out, 'labels',
                              osp.splitext(osp.basename(img))[0] + '.png'))
    model = init_model(osp.join(root, 'exp_student', 'config.py'),
                       osp.join(root, 'exp_student', 'model.pth'), 'cpu')
    bgr = np.ascontiguousarray(read_png(img)[..., ::-1])
    s = inference_model(model, bgr).seg_logits.data
    s_flip = inference_model(
        model, np.ascontiguousarray(bgr[:, ::-1])).seg_logits.data
    expected = (torch.softmax(s, 0) +
                torch.softmax(s_flip, 0).flip(-1)).argmax(0).numpy()
    np.testing.assert_array_equal(label, expected)
    # the flip view changed something, else this test proves nothing
    assert (s.argmax(0).numpy() != expected).any() or \
        (torch.softmax(s_flip, 0).flip(-1).argmax(0) != s.argmax(0)).any()


def test_stock_head_exports_without_plugin(tmp_path_factory):
    """A stock mmseg student (SegFormer) exports to a config without
    custom_imports that loads and predicts without importing mmseg_uda."""
    root = make_bench(str(tmp_path_factory.mktemp('segformer_bench')))
    work = osp.join(root, 'work')
    config = osp.join(ROOT, 'configs', 'mix',
                      'abn_segformer_mit-b0_synthetic.py')
    train(config, work, root, LOADERS + [
        'train_dataloader.batch_size=1', 'train_cfg.max_iters=1',
        'default_hooks.checkpoint.interval=1', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None'
    ])
    cfg = glob.glob(osp.join(work, '*.py'))[0]
    exp = osp.join(root, 'exp')
    tool('export_model.py', cfg, osp.join(work, 'iter_1.pth'), exp, cwd=root)
    with open(osp.join(exp, 'config.py')) as f:
        text = f.read()
    assert 'custom_imports' not in text and 'mmseg_uda' not in text
    img = sorted(glob.glob(osp.join(root, VAL_IMAGES)))[0]
    code = (
        'import sys\n'
        'from mmseg.apis import init_model, inference_model\n'
        f'm = init_model({osp.join(exp, "config.py")!r}, '
        f'{osp.join(exp, "model.pth")!r}, device="cpu")\n'
        f'r = inference_model(m, {img!r})\n'
        'assert "mmseg_uda" not in sys.modules, "plugin imported"\n'
        'print("shape", tuple(r.pred_sem_seg.shape),\n'
        '      m.dataset_meta["classes"][0])\n')
    e = env()
    e['PYTHONPATH'] = ''  # only the installed packages
    proc = subprocess.run([PY, '-c', code], cwd=root, env=e, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'shape (128, 256) road' in proc.stdout
