"""UDASegmentor with a labelled_loss (MRNet stage II, IJCV rectified loss)."""
import torch

from conftest import (build_optim, build_uda, make_batch, set_iter, snapshot,
                      upsample)


def _rectified_reference(zp, za, labels):
    """The rectified loss in float64 from its definition (Zheng & Yang,
    IJCV 2021), the mean over labelled pixels of
    ``exp(-D) * (-log pp[y]) + D`` with ``D = sum_c pa (log pa - log pp)``."""
    lp = torch.log_softmax(zp.double(), 1)
    la = torch.log_softmax(za.double(), 1)
    d = (la.exp() * (la - lp)).sum(1)
    valid = labels != 255
    y = labels.clamp(max=zp.shape[1] - 1)
    ce = -lp.gather(1, y[:, None])[:, 0]
    per_pixel = torch.exp(-d) * ce + d
    return float(per_pixel[valid].mean())


def test_rectified_loss_replaces_head_ce(uda_env):
    import copy

    from mmseg_uda.models.uda.student_outputs import forward_heads
    model = build_uda(
        labelled_loss=dict(type='RectifiedPseudoLabelLoss'),
        memory_reg=dict(type='MemoryRegLoss', loss_weight=0.1),
        memory_reg_on='labelled')
    optim = build_optim(model)
    set_iter(0)
    batch = make_batch(target=False)

    # expected value: an independent forward of a copy (train mode,
    # dropout-free head) and the IJCV rectified loss written out in float64,
    # L = mean_valid exp(-KL(pa || pp)) * CE(zp, y) + KL(pa || pp)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        data = twin.data_preprocessor(copy.deepcopy(batch), True)
        out = forward_heads(twin.segmentor, data['inputs'])
        labels = torch.stack(
            [s.gt_sem_seg.data[0] for s in data['data_samples']]).long()
        expected = _rectified_reference(upsample(out.primary),
                                        upsample(out.aux), labels)
    before = snapshot(model.segmentor)
    logs = model.train_step(batch, optim)
    assert 'src.loss_rect' in logs and 'tgt.loss_mr' in logs
    assert not any(k.startswith('src.decode') for k in logs)
    torch.testing.assert_close(float(logs['src.loss_rect']), expected,
                               rtol=1e-5, atol=1e-7)
    after = snapshot(model.segmentor)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_labelled_loss_needs_two_heads(uda_env):
    import pytest
    model = build_uda(head='single',
                      labelled_loss=dict(type='RectifiedPseudoLabelLoss'))
    optim = build_optim(model)
    with pytest.raises(KeyError, match='two classifiers'):
        model.train_step(make_batch(target=False), optim)
