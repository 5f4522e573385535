"""Tests of the embedded synthetic benchmark generator.

The generator must write the real on-disk formats (GTA5 palette labels,
SYNTHIA 16-bit 3-channel labels, Cityscapes labelIds), be deterministic for
a seed, and draw every class it claims.
"""
import hashlib
import os
import os.path as osp
import re
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from mmseg_uda.datasets import synthetic_scenes as ss
from mmseg_uda.datasets.formats import read_label

SIZE = (192, 96)
N_SRC, N_TRAIN, N_VAL = 6, 4, 3
CS_IDS = set(ss.CITYSCAPES_LABEL_IDS) | {0, ss.CITYSCAPES_EGO_ID}
SYNTHIA_IDS = {0, ss.SYNTHIA_LANEMARKING_ID} | {
    ss.SYNTHIA_LABEL_IDS[ss.CLASSES.index(c)]
    for c in ss.DOMAIN_CLASSES['synthia']
}
STEM_RE = re.compile(r'^([a-z]+)_(\d{6})_(\d{6})$')


def _generate(root, seed=0):
    return ss.generate_benchmark(
        str(root), seed=seed, num_source=N_SRC, num_target_train=N_TRAIN,
        num_val=N_VAL, size=SIZE)


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic') / 'data'
    _generate(root)
    return root


def _files(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = osp.join(dirpath, n)
            with open(p, 'rb') as f:
                out[osp.relpath(p, root)] = hashlib.sha1(f.read()).hexdigest()
    return out


def test_gta_layout_and_format(bench):
    root = bench / 'gta'
    names = [f'{k:05d}.png' for k in range(1, N_SRC + 1)]
    assert sorted(os.listdir(root / 'images')) == names
    assert sorted(os.listdir(root / 'labels')) == names
    mismatch = ss.mismatched_gta_indices(N_SRC)
    assert 1 <= len(mismatch) <= 2
    for k in range(1, N_SRC + 1):
        with Image.open(root / 'images' / f'{k:05d}.png') as img:
            assert img.mode == 'RGB' and img.size == SIZE
        with Image.open(root / 'labels' / f'{k:05d}.png') as lab:
            assert lab.mode == 'P'
            ids = np.array(lab)
            palette = lab.getpalette()
        assert set(np.unique(ids)) <= CS_IDS
        assert ss.CITYSCAPES_EGO_ID not in set(np.unique(ids))
        # Cityscapes colours in the palette (road = id 7).
        assert palette[7 * 3:7 * 3 + 3] == [128, 64, 128]
        if k in mismatch:
            dw, dh = mismatch[k]
            assert (dw, dh) != (0, 0)
            assert ids.shape == (SIZE[1] + dh, SIZE[0] + dw)
        else:
            assert ids.shape == (SIZE[1], SIZE[0])
        # The project's reader gets the indices, not colours.
        np.testing.assert_array_equal(
            read_label(str(root / 'labels' / f'{k:05d}.png')), ids)


def test_synthia_layout_and_format(bench):
    root = bench / 'synthia' / 'RAND_CITYSCAPES'
    names = [f'{k:07d}.png' for k in range(N_SRC)]
    assert sorted(os.listdir(root / 'RGB')) == names
    assert sorted(os.listdir(root / 'GT' / 'LABELS')) == names
    for n in names:
        img = cv2.imread(str(root / 'RGB' / n), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.shape == (SIZE[1], SIZE[0], 3)
        lab = cv2.imread(str(root / 'GT' / 'LABELS' / n),
                         cv2.IMREAD_UNCHANGED)
        assert lab.dtype == np.uint16 and lab.shape == (SIZE[1], SIZE[0], 3)
        ids = lab[..., 2]  # R in cv2's BGR order
        assert set(np.unique(ids)) <= SYNTHIA_IDS
        # The other channels hold instance-like junk, not the class ids.
        assert (lab[..., 1] != ids).any() and (lab[..., 0] != ids).any()
        np.testing.assert_array_equal(
            read_label(str(root / 'GT' / 'LABELS' / n), channel='R'), ids)


def test_cityscapes_layout_and_format(bench):
    root = bench / 'cityscapes'
    for split, n, cities in (('train', N_TRAIN, ss.TRAIN_CITIES),
                             ('val', N_VAL, ss.VAL_CITIES)):
        img_dir = root / 'leftImg8bit' / split
        lab_dir = root / 'gtFine' / split
        found = sorted(os.listdir(img_dir))
        assert len(found) >= 2 and set(found) <= set(cities)
        assert sorted(os.listdir(lab_dir)) == found
        stems = []
        for city in found:
            imgs = sorted(os.listdir(img_dir / city))
            labs = sorted(os.listdir(lab_dir / city))
            assert all(f.endswith('_leftImg8bit.png') for f in imgs)
            assert all(f.endswith('_gtFine_labelIds.png') for f in labs)
            s_img = [f[:-len('_leftImg8bit.png')] for f in imgs]
            s_lab = [f[:-len('_gtFine_labelIds.png')] for f in labs]
            assert s_img == s_lab
            for stem in s_img:
                m = STEM_RE.match(stem)
                assert m and m.group(1) == city and m.group(3) == '000019'
                with Image.open(img_dir / city /
                                f'{stem}_leftImg8bit.png') as img:
                    assert img.mode == 'RGB' and img.size == SIZE
                with Image.open(lab_dir / city /
                                f'{stem}_gtFine_labelIds.png') as lab:
                    assert lab.mode == 'L' and lab.size == SIZE
                    assert set(np.unique(np.array(lab))) <= CS_IDS
            stems += s_img
        assert len(stems) == n == len(set(stems))


def test_deterministic_and_seed_dependent(bench, tmp_path):
    ref = _files(bench)
    again = tmp_path / 'again'
    _generate(again, seed=0)
    assert _files(again) == ref  # byte-identical
    other = tmp_path / 'other'
    _generate(other, seed=1)
    files = _files(other)
    assert set(files) == set(ref)
    images = [k for k in ref if 'images' in k or 'RGB' in k or
              'leftImg8bit' in k]
    assert all(files[k] != ref[k] for k in images)


def test_scene_independent_of_count():
    a = ss.render_scene('cityscapes', 3, 5, SIZE)
    b = ss.render_scene('cityscapes', 3, 5, SIZE)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = ss.render_scene('cityscapes', 3, 6, SIZE)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize('domain', ss.DOMAINS)
def test_every_claimed_class_drawn(domain):
    seen = np.zeros(256, bool)
    for i in range(40):
        _, classes, _ = ss.render_scene(domain, 0, i, (256, 128))
        seen[np.unique(classes)] = True
    drawn = {ss.CLASSES[i] for i in range(19) if seen[i]}
    assert drawn == set(ss.DOMAIN_CLASSES[domain])
    if domain == 'synthia':
        assert not seen[[ss.TERRAIN, ss.TRUCK, ss.TRAIN]].any()
        assert seen[ss.LANE]
    # Raw ids of the domain cover exactly the drawn classes (+ void codes).
    ids = ss.label_ids(np.nonzero(seen)[0].astype(np.uint8), domain)
    allowed = SYNTHIA_IDS if domain == 'synthia' else CS_IDS
    assert set(ids.tolist()) <= allowed


def test_domains_differ_in_appearance():
    """The target is not a copy of the source: per-class mean colours
    differ, while both keep the same classes."""
    def class_means(domain):
        sums = np.zeros((19, 3))
        counts = np.zeros(19)
        for i in range(6):
            img, classes, _ = ss.render_scene(domain, 0, i, (256, 128))
            for c in np.unique(classes):
                if c < 19:
                    m = classes == c
                    sums[c] += img[m].sum(0)
                    counts[c] += m.sum()
        return sums / np.maximum(counts, 1)[:, None], counts > 0

    src, s_ok = class_means('gta')
    tgt, t_ok = class_means('cityscapes')
    both = s_ok & t_ok
    assert both[[ss.ROAD, ss.SIDEWALK, ss.BUILDING, ss.SKY, ss.VEG]].all()
    dist = np.linalg.norm(src[both] - tgt[both], axis=1)
    assert np.median(dist) > 20
    # Sky stays the brightest, road darker than sidewalk, in both domains.
    for means in (src, tgt):
        assert means[ss.SKY].mean() > means[ss.ROAD].mean()
        assert means[ss.SIDEWALK].mean() > means[ss.ROAD].mean()


def test_cli(tmp_path):
    sys.path.insert(0, osp.join(osp.dirname(__file__), '..', 'tools'))
    try:
        import make_synthetic
    finally:
        sys.path.pop(0)
    out = tmp_path / 'cli'
    make_synthetic.main([
        '--out', str(out), '--seed', '2', '--num-source', '2',
        '--num-target-train', '2', '--num-val', '2', '--size', '128x64',
        '--domains', 'gta,cityscapes', '--quiet'
    ])
    assert sorted(os.listdir(out / 'gta' / 'images')) == [
        '00001.png', '00002.png'
    ]
    assert not (out / 'synthia').exists()
    with Image.open(out / 'gta' / 'labels' / '00002.png') as lab:
        assert lab.size == (128, 62)  # the deliberate GTA size oddity
    assert osp.isfile(out / 'synthetic_meta.json')
    with pytest.raises(SystemExit):
        make_synthetic.parse_args(['--size', '512by256'])
