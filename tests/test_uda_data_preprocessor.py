# Copyright (c) mmseg_uda contributors. All rights reserved.
"""UDADataPreProcessor: both halves of a UDA batch normalised, converted to
RGB and padded like the source, against a normalisation written here."""
import torch
from conftest import H, MEAN, STD, W, data_preprocessor_cfg, make_batch
from mmengine.registry import init_default_scope

import mmseg_uda  # noqa: F401  (registers the components)
from mmseg.registry import MODELS


def _normalise(img: torch.Tensor) -> torch.Tensor:
    """uint8 BGR (3, h, w) -> float RGB ``(x - mean) / std``, padded with 0
    (after normalisation) at the bottom / right to (H, W)."""
    rgb = img.flip(0).double()
    out = (rgb - torch.tensor(MEAN, dtype=torch.float64).view(3, 1, 1)) / \
        torch.tensor(STD, dtype=torch.float64).view(3, 1, 1)
    padded = torch.zeros(3, H, W, dtype=torch.float64)
    padded[:, :img.shape[1], :img.shape[2]] = out
    return padded


def test_target_half_is_normalised_like_the_source():
    init_default_scope('mmseg')
    dp = MODELS.build(data_preprocessor_cfg())
    batch = make_batch(n=2, seed=3)
    # a smaller target image is padded to the batch size
    batch['target_inputs'][1] = batch['target_inputs'][1][:, :H - 5, :W - 7]
    raw_src = [x.clone() for x in batch['inputs']]
    raw_tgt = [x.clone() for x in batch['target_inputs']]
    out = dp(batch, True)

    assert out['target_inputs'].shape == (2, 3, H, W)
    for i in range(2):
        torch.testing.assert_close(out['inputs'][i].double(),
                                   _normalise(raw_src[i]))
        torch.testing.assert_close(out['target_inputs'][i].double(),
                                   _normalise(raw_tgt[i]))
    # target samples: no labels needed
    samples = out['target_data_samples']
    assert len(samples) == 2 and all('gt_sem_seg' not in s for s in samples)
    # the source labels are still there, and a batch without a target part
    # is plain SegDataPreProcessor output
    assert all('gt_sem_seg' in s for s in out['data_samples'])
    plain = dp(make_batch(n=2, seed=3, target=False), True)
    assert set(plain) == {'inputs', 'data_samples'}
    torch.testing.assert_close(plain['inputs'], out['inputs'])
