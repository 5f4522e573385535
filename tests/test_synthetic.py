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

from mmseg_uda.benchmarks import synthetic as ss
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


@pytest.mark.slow
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


# Decoded content (sha256 prefix) of every file of generate_benchmark(
# seed=3, num_source=3, num_target_train=2, num_val=2, size=(96, 48)),
# computed with the generator before it moved to mmseg_uda.benchmarks.
REFERENCE_DIGESTS = {
    'synthetic_meta.json':
        '2d7ef2636b673881838697e2750d9e24',
    'cityscapes/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png':
        'a59e2b311c7854c904af2b238d8d7cc2',
    'cityscapes/gtFine/train/bochum/bochum_000000_000019_gtFine_labelIds.png':
        'e4796460ddc77a228e2d32f2c70ff985',
    'cityscapes/gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png':  # noqa: E501
        '9a48a9f356af65e60b364c988d192795',
    'cityscapes/gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png':
        'dce827c2725436bbedd729b0b13e5c90',
    'cityscapes/leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png':
        'cbf39168f2b96d82a2b92be8f19254bb',
    'cityscapes/leftImg8bit/train/bochum/bochum_000000_000019_leftImg8bit.png':
        '5128ac0a6e6e5525107c797a8ad9c8d4',
    'cityscapes/leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png':  # noqa: E501
        '12a48414e9a882f397f2336023992241',
    'cityscapes/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png':
        'd04fa4e1d9e0efe3fe44e280fb63925e',
    'gta/images/00001.png':
        'cf24624b6148eac32280697b007f5861',
    'gta/images/00002.png':
        'cc0fe89b5109e22bb65644fe65db6667',
    'gta/images/00003.png':
        '66d5fdaa24e87eb45a6b19e417203293',
    'gta/labels/00001.png':
        '68bc7d561bd4e666583dc49a060d3500',
    'gta/labels/00002.png':
        'ec35b906a9b93a46775d234b98d14a68',
    'gta/labels/00003.png':
        '9e3a2c25477ab4fab2dd3f39b6f5679c',
    'synthia/RAND_CITYSCAPES/GT/LABELS/0000000.png':
        'def0dd0b0b5cb8d460e5c0715ab5a50a',
    'synthia/RAND_CITYSCAPES/GT/LABELS/0000001.png':
        'b8671a0973e7bc65472fa6c168001689',
    'synthia/RAND_CITYSCAPES/GT/LABELS/0000002.png':
        '84a00d9fe93315b18431e7e2fba45696',
    'synthia/RAND_CITYSCAPES/RGB/0000000.png':
        '6cdb45cd4d90c0e93ff66cf2b897c01b',
    'synthia/RAND_CITYSCAPES/RGB/0000001.png':
        '30539bbfcb1fbcc0457467aa98c7032e',
    'synthia/RAND_CITYSCAPES/RGB/0000002.png':
        '45a4a0f48f1db31bdac31cbbd44e79e5',
}


def _decoded_digest(path: str) -> str:
    """sha256 of a file's decoded content: PNG pixels (palette indices and
    the palette for GTA5 labels, 16-bit values for SYNTHIA labels) with
    their shape and dtype, other files byte for byte. Independent of the
    PNG encoder's compression, unlike the file bytes."""
    if not path.endswith('.png'):
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()
    with Image.open(path) as im:
        mode = im.mode
        if mode == 'P':
            arr = np.array(im)
            extra = bytes(im.getpalette() or [])
        else:
            arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            extra = b''
    digest = hashlib.sha256(f'{mode}{arr.shape}{arr.dtype}'.encode())
    digest.update(np.ascontiguousarray(arr).tobytes())
    digest.update(extra)
    return digest.hexdigest()


def test_output_pinned_across_refactors(tmp_path):
    """A regression pin, not a test of correctness: the generator's output
    for one small seed is exactly what it was when the generator was split
    into ``mmseg_uda.benchmarks.synthetic`` (the digests above were computed
    with the code before the move; at the move the files were also
    byte-identical). A deliberate change of the scenes updates the pin."""
    out = tmp_path / 'pinned'
    ss.generate_benchmark(str(out), seed=3, num_source=3, num_target_train=2,
                          num_val=2, size=(96, 48))
    got = {
        osp.relpath(osp.join(d, n), out): _decoded_digest(osp.join(d, n))[:32]
        for d, _, names in os.walk(out) for n in names
    }
    assert set(got) == set(REFERENCE_DIGESTS)
    changed = sorted(k for k in got if got[k] != REFERENCE_DIGESTS[k])
    assert not changed, changed


def test_scene_independent_of_count():
    a = ss.render_scene('cityscapes', 3, 5, SIZE)
    b = ss.render_scene('cityscapes', 3, 5, SIZE)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = ss.render_scene('cityscapes', 3, 6, SIZE)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.slow
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


@pytest.mark.slow
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
