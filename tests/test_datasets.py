"""Tests of the benchmark datasets, label mappings and loading transforms.

Expected labels are computed here with plain Python dict look-ups written
out independently of ``mmseg_uda.datasets.label_mappings``.
"""
import os
import re
import os.path as osp
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from helpers.formats import (make_cityscapes, make_gta5,  # noqa: E402
                             make_robotcar, make_synthia, random_ids)

from mmengine.registry import init_default_scope  # noqa: E402

from mmseg.registry import DATASETS, TRANSFORMS  # noqa: E402
from mmseg_uda.datasets import (LABEL_MAPPINGS, CityscapesRawDataset,  # noqa
                                GTA5Dataset, LabelWarning, RobotCarDataset,
                                SynthiaDataset, apply_label_mapping, formats)

init_default_scope('mmseg')

# ---------------------------------------------------------------------------
# Independent expectations (from the dataset documentation).
# ---------------------------------------------------------------------------
CS_TO_19 = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8,
            22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16,
            32: 17, 33: 18}
CS_TO_16 = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8,
            23: 9, 24: 10, 25: 11, 26: 12, 28: 13, 32: 14, 33: 15}
SYNTHIA_TO_19 = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8,
                 1: 10, 10: 11, 17: 12, 8: 13, 19: 15, 12: 17, 11: 18}
SYNTHIA_TO_16 = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8,
                 1: 9, 10: 10, 17: 11, 8: 12, 19: 13, 12: 14, 11: 15}
ROBOTCAR_TO_9 = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 10: 7, 11: 8,
                 12: 8, 13: 8, 14: 8, 17: 8}
CS_TO_ROBOTCAR9 = {23: 0, 24: 1, 25: 1, 32: 2, 33: 2, 26: 3, 27: 3, 28: 3,
                   20: 4, 19: 5, 11: 6, 8: 7, 7: 8}
CS16_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                'traffic light', 'traffic sign', 'vegetation', 'sky',
                'person', 'rider', 'car', 'bus', 'motorcycle', 'bicycle')


def expected_labels(raw, table):
    """Pixel-by-pixel dict look-up; everything not in ``table`` is 255."""
    out = np.empty(raw.shape, dtype=np.uint8)
    for (i, j), v in np.ndenumerate(raw):
        out[i, j] = table.get(int(v), 255)
    return out


def nearest_upscale_2x(a):
    return np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)


def build(cfg):
    return DATASETS.build(cfg)


LOAD = [dict(type='LoadCheckedImageFromFile'),
        dict(type='LoadMappedAnnotations')]


# ---------------------------------------------------------------------------
# Label mappings
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('name,table,hi', [
    ('cityscapes19', CS_TO_19, 33), ('cityscapes16', CS_TO_16, 33),
    ('synthia19', SYNTHIA_TO_19, 22), ('synthia16', SYNTHIA_TO_16, 22),
    ('robotcar9', ROBOTCAR_TO_9, 18),
    ('cityscapes_to_robotcar9', CS_TO_ROBOTCAR9, 33)
])
def test_label_mapping_tables(name, table, hi):
    raw = np.arange(0, 300, dtype=np.uint16).reshape(20, 15)
    mapped, num_unknown, unknown_ids = apply_label_mapping(raw, name)
    assert mapped.dtype == np.uint8
    np.testing.assert_array_equal(mapped, expected_labels(raw, table))
    assert num_unknown == 300 - (hi + 1)
    assert unknown_ids.min() == hi + 1 and unknown_ids.max() == 299
    assert len(LABEL_MAPPINGS[name].mapping) == len(table)


def test_label_mapping_negative_ids():
    raw = np.array([[-1, -2, 7]], dtype=np.int16)
    mapped, num_unknown, _ = apply_label_mapping(raw, 'cityscapes19')
    assert mapped.tolist() == [[255, 255, 0]]
    assert num_unknown == 1  # -1 (license plate) is a valid id


def test_unknown_mapping_name():
    with pytest.raises(KeyError, match='nope'):
        apply_label_mapping(np.zeros((2, 2), np.uint8), 'nope')


# ---------------------------------------------------------------------------
# GTA5
# ---------------------------------------------------------------------------
def test_gta5_palette_labels_and_size_mismatch(tmp_path):
    root = str(tmp_path / 'gta')
    lab0 = random_ids((6, 8), list(range(34)) + [34, 200], seed=1)
    lab1 = random_ids((5, 7), range(34), seed=2)
    samples = make_gta5(root, [lab0, lab1], image_shapes=[(12, 16), (5, 7)])
    ds = GTA5Dataset(data_root=root, pipeline=LOAD)
    assert len(ds) == 2
    assert ds.metainfo['classes'][-1] == 'bicycle'
    assert len(ds.metainfo['classes']) == 19
    info = ds.get_data_info(0)
    assert info['label_mapping'] == 'cityscapes19'
    assert info['seg_map_path'] == samples[0].label_path

    with pytest.warns(LabelWarning) as record:
        out0 = ds[0]
    msgs = [str(w.message) for w in record]
    assert any(samples[0].label_path in m and 'resized' in m for m in msgs)
    n_unknown = int(np.count_nonzero(lab0 > 33))
    assert any(samples[0].label_path in m and f'{n_unknown} pixel' in m
               for m in msgs)
    assert out0['img'].shape == (12, 16, 3)
    np.testing.assert_array_equal(
        out0['gt_seg_map'],
        nearest_upscale_2x(expected_labels(lab0, CS_TO_19)))
    assert out0['seg_fields'] == ['gt_seg_map']

    # Warned once per file only.
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter('always')
        ds[0]
    assert not [w for w in again if issubclass(w.category, LabelWarning)]

    with warnings.catch_warnings():
        warnings.simplefilter('error', LabelWarning)
        out1 = ds[1]
    np.testing.assert_array_equal(out1['gt_seg_map'],
                                  expected_labels(lab1, CS_TO_19))
    # The reader must give palette indices, not colours.
    assert formats.read_label(samples[1].label_path).tolist() == lab1.tolist()


def test_gta5_list_file_and_wrong_mapping(tmp_path):
    root = str(tmp_path / 'gta')
    make_gta5(root, [random_ids((4, 4), range(34), seed=s) for s in range(3)])
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write('00003\n00001.png\n\n')
    ds = GTA5Dataset(data_root=root, ann_file='split.txt')
    assert [osp.basename(ds.get_data_info(i)['img_path'])
            for i in range(len(ds))] == ['00003.png', '00001.png']
    with pytest.raises(ValueError, match='synthia'):
        GTA5Dataset(data_root=root, label_mapping='synthia16')
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        GTA5Dataset(data_root=root, ann_file='missing.txt')


# ---------------------------------------------------------------------------
# SYNTHIA
# ---------------------------------------------------------------------------
def test_synthia_16bit_r_channel(tmp_path):
    root = str(tmp_path / 'synthia')
    lab = random_ids((6, 9), list(range(23)) + [23, 1000, 40000], seed=3,
                     dtype=np.uint16)
    samples = make_synthia(root, [lab])
    ds = SynthiaDataset(data_root=root, pipeline=LOAD)
    assert ds.metainfo['classes'] == CS16_CLASSES
    assert ds.get_data_info(0)['label_channel'] == 'R'
    n_unknown = int(np.count_nonzero(lab > 22))
    with pytest.warns(LabelWarning, match=f' {n_unknown} pixel'):
        out = ds[0]
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  expected_labels(lab, SYNTHIA_TO_16))
    assert set(SynthiaDataset.MIOU13_EXCLUDED) <= set(CS16_CLASSES)

    ds19 = SynthiaDataset(
        data_root=root, label_mapping='synthia19', pipeline=LOAD)
    assert len(ds19.metainfo['classes']) == 19
    with pytest.warns(LabelWarning):
        out19 = ds19[0]
    np.testing.assert_array_equal(out19['gt_seg_map'],
                                  expected_labels(lab, SYNTHIA_TO_19))

    # A multi-channel label without a channel is refused, naming the file.
    with pytest.raises(ValueError, match='channels'):
        formats.read_label(samples[0].label_path)


# ---------------------------------------------------------------------------
# Cityscapes
# ---------------------------------------------------------------------------
def _cs_labels(seed=0):
    return {
        'aachen/aachen_000000_000019':
        random_ids((6, 10), range(34), seed=seed),
        'bremen/bremen_000001_000019':
        random_ids((6, 10), range(34), seed=seed + 1),
    }


@pytest.mark.parametrize('mapping,table,num_classes', [
    ('cityscapes19', CS_TO_19, 19), ('cityscapes16', CS_TO_16, 16),
    ('cityscapes_to_robotcar9', CS_TO_ROBOTCAR9, 9)
])
def test_cityscapes_raw_label_ids(tmp_path, mapping, table, num_classes):
    root = str(tmp_path / 'cityscapes')
    samples = make_cityscapes(root, 'train', _cs_labels())
    ds = CityscapesRawDataset(
        data_root=root, label_mapping=mapping, pipeline=LOAD)
    assert len(ds.metainfo['classes']) == num_classes
    assert len(ds.metainfo['palette']) == num_classes
    assert ds.METAINFO['classes'] == ds.metainfo['classes']
    assert len(ds) == 2
    for i, s in enumerate(samples):
        with warnings.catch_warnings():
            warnings.simplefilter('error', LabelWarning)
            out = ds[i]
        assert out['img_path'] == s.img_path
        np.testing.assert_array_equal(out['gt_seg_map'],
                                      expected_labels(s.raw_ids, table))
    if mapping == 'cityscapes_to_robotcar9':
        assert ds.metainfo['classes'] == RobotCarDataset(
            data_root=str(tmp_path / 'rc'), lazy_init=True).metainfo['classes']


def test_cityscapes_label_train_ids(tmp_path):
    root = str(tmp_path / 'cityscapes')
    train_ids = {
        'aachen/aachen_000000_000019':
        random_ids((6, 10), list(range(19)) + [255], seed=7)
    }
    (s, ) = make_cityscapes(root, 'val', train_ids, train_ids=True)
    ds = CityscapesRawDataset(
        data_root=root,
        seg_map_suffix='_gtFine_labelTrainIds.png',
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=LOAD)
    assert ds.get_data_info(0)['label_mapping'] is None
    assert len(ds.metainfo['classes']) == 19
    np.testing.assert_array_equal(ds[0]['gt_seg_map'], s.raw_ids)
    with pytest.raises(ValueError, match='labelIds'):
        CityscapesRawDataset(
            data_root=root,
            label_mapping='cityscapes16',
            seg_map_suffix='_gtFine_labelTrainIds.png')


def test_cityscapes_class_subset(tmp_path):
    """mmseg's metainfo class subset still works on top of the mapping."""
    root = str(tmp_path / 'cityscapes')
    (s, ) = make_cityscapes(root, 'train', {'a/a_0_0': random_ids(
        (5, 8), range(34), seed=9)})
    ds = CityscapesRawDataset(
        data_root=root, metainfo=dict(classes=('road', 'car')),
        pipeline=LOAD)
    assert ds.metainfo['classes'] == ('road', 'car')
    np.testing.assert_array_equal(
        ds[0]['gt_seg_map'], expected_labels(s.raw_ids, {7: 0, 26: 1}))


def test_cityscapes_target_without_labels(tmp_path):
    root = str(tmp_path / 'cityscapes')
    make_cityscapes(root, 'train', _cs_labels(), write_labels=False)
    assert not osp.exists(osp.join(root, 'gtFine'))
    with pytest.raises(FileNotFoundError, match='gtFine'):
        CityscapesRawDataset(data_root=root)
    ds = CityscapesRawDataset(
        data_root=root,
        with_labels=False,
        pipeline=[
            dict(type='LoadCheckedImageFromFile'),
            dict(type='PackSegInputs')
        ])
    assert len(ds) == 2
    assert 'seg_map_path' not in ds.get_data_info(0)
    out = ds[1]
    assert tuple(out['inputs'].shape) == (3, 6, 10)
    assert 'gt_sem_seg' not in out['data_samples']
    # Loading labels for an unlabelled set is a configuration error.
    with pytest.raises(KeyError, match='with_labels=False'):
        TRANSFORMS.build(dict(type='LoadMappedAnnotations'))(
            ds.get_data_info(0))


# ---------------------------------------------------------------------------
# Oxford RobotCar
# ---------------------------------------------------------------------------
def test_robotcar(tmp_path):
    root = str(tmp_path / 'Oxford_Robot_ICCV19')
    val_labels = {
        'frame_a': random_ids((6, 8), range(19), seed=11),
        'frame_b': random_ids((6, 8), list(range(19)) + [19, 250], seed=12),
    }
    train, val = make_robotcar(
        root, val_labels, train_shapes={'t1': (6, 8), 't2': (6, 8)})
    ds = RobotCarDataset(data_root=root, pipeline=LOAD)
    assert ds.metainfo['classes'] == ('sky', 'person', 'two-wheel',
                                      'automobile', 'sign', 'light',
                                      'building', 'sidewalk', 'road')
    out = ds[0]
    np.testing.assert_array_equal(
        out['gt_seg_map'], expected_labels(val[0].raw_ids, ROBOTCAR_TO_9))
    with pytest.warns(LabelWarning, match='frame_b'):
        out = ds[1]
    np.testing.assert_array_equal(
        out['gt_seg_map'], expected_labels(val[1].raw_ids, ROBOTCAR_TO_9))

    # Unlabelled training split with a list file (no anno for these).
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('t2.png\nt1\n')
    tr = RobotCarDataset(
        data_root=root,
        with_labels=False,
        ann_file='train.txt',
        data_prefix=dict(img_path='train'),
        pipeline=[dict(type='LoadCheckedImageFromFile')])
    assert [tr[i]['img_path'] for i in range(2)] == [
        train[1].img_path, train[0].img_path
    ]
    # ... but asking for its labels names the missing file.
    with pytest.raises(FileNotFoundError, match=r'anno.t1\.png|anno.t2\.png'):
        RobotCarDataset(
            data_root=root,
            data_prefix=dict(img_path='train', seg_map_path='anno'))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------
def test_missing_root_and_img_dir(tmp_path):
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        GTA5Dataset(data_root=missing)
    root = tmp_path / 'gta'
    root.mkdir()
    with pytest.raises(FileNotFoundError, match='images'):
        GTA5Dataset(data_root=str(root))


def test_empty_split(tmp_path):
    root = tmp_path / 'synthia'
    (root / 'RGB').mkdir(parents=True)
    (root / 'GT' / 'LABELS').mkdir(parents=True)
    (root / 'RGB' / 'notes.txt').write_text('x')
    with pytest.raises(ValueError) as err:
        SynthiaDataset(data_root=str(root))
    assert str(root / 'RGB') in str(err.value)
    assert "'.png'" in str(err.value)


def test_missing_label_file(tmp_path):
    root = str(tmp_path / 'gta')
    samples = make_gta5(root, [random_ids((4, 4), range(34), seed=s)
                               for s in range(2)])
    os.remove(samples[1].label_path)
    with pytest.raises(FileNotFoundError) as err:
        GTA5Dataset(data_root=root)
    assert samples[1].label_path in str(err.value)
    assert len(GTA5Dataset(data_root=root, with_labels=False)) == 2


def test_truncated_image_and_label(tmp_path):
    root = str(tmp_path / 'gta')
    samples = make_gta5(root, [random_ids((8, 8), range(34), seed=s)
                               for s in range(3)])
    # 0: truncated image, 1: truncated label, 2: corrupt image data with an
    # intact end chunk.
    for path in (samples[0].img_path, samples[1].label_path):
        data = open(path, 'rb').read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
    data = bytearray(open(samples[2].img_path, 'rb').read())
    start = data.index(b'IDAT') + 8
    data[start:start + 20] = bytes(20)
    with open(samples[2].img_path, 'wb') as f:
        f.write(bytes(data))

    ds = GTA5Dataset(data_root=root, pipeline=LOAD)
    with pytest.raises(OSError, match=re.escape(samples[0].img_path)):
        ds[0]
    with pytest.raises(OSError, match=re.escape(samples[1].label_path)):
        ds[1]
    with pytest.raises(OSError, match=re.escape(samples[2].img_path)):
        ds[2]
    # ignore_empty skips the sample instead (with a warning).
    load = TRANSFORMS.build(
        dict(type='LoadCheckedImageFromFile', ignore_empty=True))
    with pytest.warns(UserWarning, match=re.escape(samples[0].img_path)):
        assert load(dict(img_path=samples[0].img_path)) is None
