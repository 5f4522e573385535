"""Tests of the CBST class-balanced pseudo-label selection
(``mmseg_uda/apis/pseudo_label_selection.py``, ``--class-portion`` of
``tools/gen_pseudo_labels.py``)."""
import importlib.util
import json
import math
import os
import os.path as osp
import sys

import numpy as np
import pytest
from mmengine.dataset import pseudo_collate

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from helpers.formats import make_cityscapes  # noqa: E402
from helpers.pseudo_label_tool import (gen_pseudo_labels_cmd,  # noqa: E402
                                       run_tool, save_stage1)
from test_stage2 import (IMAGES, NUM_CLASSES, _pseudo_cfg,  # noqa: E402
                         _read, _uda_config, confident_model)

from mmseg.registry import DATASETS  # noqa: E402
from mmseg_uda.apis import (apply_thresholds,  # noqa: E402
                            build_target_dataset, class_balanced_thresholds,
                            confidence_histograms, generate_pseudo_labels,
                            pseudo_label_probs, quantize_confidence,
                            write_class_balanced_labels)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RELS = sorted(k + '.png' for k in IMAGES)


def numpy_thresholds(levels_per_class, portion, cap=1.0):
    """Independent reference: the ceil(P n)-th largest level of each class
    (sorting), capped; NaN without pixels."""
    out = []
    for levels in levels_per_class:
        if len(levels) == 0:
            out.append(np.nan)
            continue
        desc = np.sort(np.asarray(levels))[::-1]
        m = max(1, math.ceil(round(portion * len(desc), 9)))
        out.append(min(desc[m - 1] / 255., cap))
    return np.array(out)


@pytest.mark.parametrize('portion', [0.05, 0.2, 0.5, 0.77, 1.0])
@pytest.mark.parametrize('cap', [1.0, 0.6])
def test_thresholds_match_numpy(portion, cap):
    rng = np.random.default_rng(int(portion * 100) + int(cap * 10))
    sizes = [1, 7, 100, 0, 5000, 333]  # class 3 has no pixels
    levels_per_class = [
        rng.integers(0, 256, n) if c % 2 else  # uniform / skewed levels
        np.clip(rng.normal(200, 40, n), 0, 255).astype(int)
        for c, n in enumerate(sizes)
    ]
    label = np.concatenate(
        [np.full(n, c) for c, n in enumerate(sizes)] + [np.full(50, 255)])
    level = np.concatenate(levels_per_class + [rng.integers(0, 256, 50)])
    perm = rng.permutation(label.size)
    label, level = label[perm].reshape(-1, 1), level[perm].reshape(-1, 1)
    hist = confidence_histograms(label, level.astype(np.uint8), len(sizes))
    assert hist.shape == (len(sizes), 256)
    np.testing.assert_array_equal(hist.sum(1), sizes)

    got = class_balanced_thresholds(hist, portion, cap)
    ref = numpy_thresholds(levels_per_class, portion, cap)
    np.testing.assert_allclose(got, ref, equal_nan=True)
    assert np.isnan(got[3]) and not np.isnan(np.delete(got, 3)).any()
    # the (1 - P) quantile, up to ties: without the cap, >= P of every class
    # is kept and the next level would keep less than P
    for c, levels in enumerate(levels_per_class):
        if len(levels) and ref[c] < cap:
            need = math.ceil(round(portion * len(levels), 9))
            k = round(got[c] * 255)
            assert (levels >= k).sum() >= need > (levels >= k + 1).sum()
    filtered = apply_thresholds(label, level.astype(np.uint8), got)
    for c, levels in enumerate(levels_per_class):
        sel = label == c
        kept = filtered[sel] != 255
        assert kept.sum() == (level[sel] >= round(got[c] * 255)).sum() \
            if len(levels) else True
        np.testing.assert_array_equal(filtered[sel][kept], c)
    np.testing.assert_array_equal(filtered[label == 255], 255)


def test_threshold_errors():
    hist = np.ones((2, 256), np.int64)
    for bad in (0, -0.1, 1.01):
        with pytest.raises(ValueError, match='class portion'):
            class_balanced_thresholds(hist, bad)
        if bad != -0.1:
            with pytest.raises(ValueError, match='max threshold'):
                class_balanced_thresholds(hist, 0.5, bad)
    with pytest.raises(ValueError, match='must be'):
        class_balanced_thresholds(np.ones((2, 10)), 0.5)


@pytest.mark.parametrize('portion', [0.2, 0.5, 0.8])
def test_kept_fraction_close_to_portion(portion):
    """On a label map with continuous confidences every class keeps at
    least P of its pixels, and at most one quantisation level more."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, 5, (300, 300)).astype(np.uint8)
    label[:5] = 255  # already ignored pixels stay ignored
    conf = rng.beta(1 + label % 5, 2.)  # different distributions per class
    level = quantize_confidence(conf)
    np.testing.assert_array_equal(level, np.round(conf * 255))
    thr = class_balanced_thresholds(
        confidence_histograms(label, level, 5), portion)
    out = apply_thresholds(label, level, thr)
    np.testing.assert_array_equal(out[:5], 255)
    for c in range(5):
        sel = label == c
        kept = (out[sel] != 255).mean()
        level_share = (level[sel] == round(thr[c] * 255)).mean()
        assert portion <= kept <= portion + level_share + 1e-12
        assert kept - portion < 0.02
        # kept pixels: raw label and conf >= t_c; dropped: conf < t_c
        assert (conf[sel][out[sel] != 255] >= thr[c] - 0.5 / 255).all()
        assert (conf[sel][out[sel] == 255] < thr[c] + 0.5 / 255).all()


# ---------------------------------------------------------------------------
# generation (API and tool)
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def soft_model():
    """Tiny random stage-I model with spread-out confidences."""
    return confident_model(0, scale=2000.)


@pytest.fixture
def target(tmp_path):
    root = str(tmp_path / 'cityscapes')
    make_cityscapes(
        root, 'train', {k: np.zeros(s, np.uint8)
                        for k, s in IMAGES.items()}, write_labels=False)
    return dict(root=root, dataset=build_target_dataset(_uda_config(root)))


def _tree(folder):
    return {
        osp.relpath(osp.join(d, f), folder):
        open(osp.join(d, f), 'rb').read()
        for d, _, files in os.walk(folder) for f in files
        if f.endswith('.png')
    }


def test_generate_class_balanced_api(soft_model, target, tmp_path):
    out = str(tmp_path / 'cb')
    ds = target['dataset']
    # distributed split: rank 1 of 2 writes only its raw / conf pair
    res = generate_pseudo_labels(
        soft_model, ds, out, rank=1, world_size=2, progress=False,
        class_portion=0.5)
    assert res['written'] == 1 and 'selection' not in res
    assert sorted(_tree(out)) == ['conf/' + RELS[1], 'raw/' + RELS[1]]
    res = generate_pseudo_labels(
        soft_model, ds, out, rank=0, world_size=2, progress=False,
        class_portion=0.5, max_threshold=0.9)
    assert res['written'] == 2
    files = _tree(out)
    assert sorted(files) == sorted(
        [r for r in RELS] + ['raw/' + r for r in RELS] +
        ['conf/' + r for r in RELS])

    # raw = argmax, conf = round(255 * max prob) of the fused probabilities
    for i, rel in enumerate(RELS):
        probs = pseudo_label_probs(soft_model, pseudo_collate([ds[i]]))
        conf, lab = probs.max(0)
        raw, lvl = _read(osp.join(out, 'raw', rel)), _read(
            osp.join(out, 'conf', rel))
        assert (raw == lab.numpy()).mean() > 0.999  # float ties only
        assert np.abs(lvl.astype(int) - conf.numpy() * 255).max() <= 0.5001
    assert _read(osp.join(out, 'conf', RELS[0])).std() > 1  # spread out

    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['class_portion'] == 0.5 and meta['max_threshold'] == 0.9
    sel = meta['class_balance']
    assert len(sel['thresholds']) == NUM_CLASSES
    raws = [_read(osp.join(out, 'raw', r)) for r in RELS]
    lvls = [_read(osp.join(out, 'conf', r)) for r in RELS]
    for c, name in enumerate(meta['classes']):
        s = sel['classes'][name]
        levels = np.concatenate([l_[r == c] for r, l_ in zip(raws, lvls)])
        ref = numpy_thresholds([levels], 0.5, 0.9)[0]
        assert s['pixels'] == levels.size
        if levels.size == 0:
            assert s['threshold'] is None and s['kept_fraction'] is None
            continue
        assert s['threshold'] == pytest.approx(ref)
        assert s['kept_fraction'] >= 0.5
    # filtered = raw where conf >= t_label, 255 elsewhere
    thr = np.array([np.nan if t is None else t for t in sel['thresholds']])
    kept = total = 0
    for rel, raw, lvl in zip(RELS, raws, lvls):
        fin = _read(osp.join(out, rel))
        keep = lvl >= np.ceil(thr[raw] * 255 - 1e-6)
        np.testing.assert_array_equal(fin, np.where(keep, raw, 255))
        kept, total = kept + keep.sum(), total + keep.size
    assert sel['kept_fraction'] == pytest.approx(kept / total)

    # resume: nothing recomputed, identical files
    res = generate_pseudo_labels(
        soft_model, ds, out, progress=False, class_portion=0.5,
        max_threshold=0.9)
    assert res['written'] == 0 and res['skipped'] == 3
    assert _tree(out) == files
    # a truncated confidence map is regenerated, not skipped (issue 12.5)
    conf0 = osp.join(out, 'conf', RELS[0])
    with open(conf0, 'wb') as f:
        f.write(files['conf/' + RELS[0]][:40])
    res = generate_pseudo_labels(
        soft_model, ds, out, progress=False, class_portion=0.5,
        max_threshold=0.9)
    assert res['written'] == 1 and res['skipped'] == 2
    assert _tree(out) == files
    # an unfiltered run must not resume a class-balanced folder
    with pytest.raises(ValueError, match='class_balanced: True -> False'):
        generate_pseudo_labels(soft_model, ds, out, progress=False)
    with pytest.raises(ValueError, match='class portion'):
        generate_pseudo_labels(soft_model, ds, out, class_portion=1.5)
    with pytest.raises(ValueError, match='only applies'):
        generate_pseudo_labels(soft_model, ds, out, max_threshold=0.5)
    # pass 2 names a missing file
    os.remove(osp.join(out, 'conf', RELS[2]))
    with pytest.raises(FileNotFoundError, match=RELS[2].split('/')[1]):
        write_class_balanced_labels(
            [osp.join(out, r) for r in RELS],
            [osp.join(out, 'raw', r) for r in RELS],
            [osp.join(out, 'conf', r) for r in RELS], NUM_CLASSES, 0.5)

    # the stage-II dataset reads the filtered labels
    ds2 = DATASETS.build(_pseudo_cfg(target['root'], out))
    gt = ds2[0]['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, _read(osp.join(out, RELS[0])))
    assert (gt == 255).any() and (gt != 255).any()


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'gen_pseudo_labels_tool', osp.join(REPO, 'tools',
                                           'gen_pseudo_labels.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('argv, msg', [
    (['--class-portion', '0'], '--class-portion must be in'),
    (['--class-portion', '1.2'], '--class-portion must be in'),
    (['--class-portion', '0.5', '--max-threshold', '0'],
     '--max-threshold must be in'),
    (['--max-threshold', '0.9'], 'only applies with --class-portion'),
    (['--scales', '1.0', '0'], '--scales must be positive'),
])
def test_tool_argument_errors(argv, msg, monkeypatch, capsys):
    tool = _load_tool()
    monkeypatch.setattr(sys, 'argv',
                        ['gen_pseudo_labels.py', 'c.py', 'k.pth', '--out',
                         'o'] + argv)
    with pytest.raises(SystemExit):
        tool.parse_args()
    assert msg in capsys.readouterr().err


@pytest.mark.slow
def test_tool_class_portion_end_to_end(soft_model, target, tmp_path):
    """The tool writes the same files as the API, and prints the table."""
    cfg_path, ckpt = save_stage1(soft_model, _uda_config(target['root']),
                                 tmp_path)
    out = str(tmp_path / 'tool_out')
    proc = run_tool(gen_pseudo_labels_cmd(cfg_path, ckpt, out,
                                          '--class-portion', '0.3'))
    log = proc.stdout + proc.stderr
    assert 'class-balanced selection' in log and 'kept %' in log
    api_out = str(tmp_path / 'api_out')
    generate_pseudo_labels(soft_model, target['dataset'], api_out,
                           progress=False, class_portion=0.3)
    assert _tree(out) == _tree(api_out)
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['class_portion'] == 0.3 and meta['max_threshold'] == 1.0
    assert meta['checkpoint'] == osp.abspath(ckpt)
