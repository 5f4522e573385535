"""UDASegmentor with a labelled_loss (MRNet stage II, IJCV rectified loss)."""
import torch

from conftest import build_optim, build_uda, make_batch, set_iter, snapshot


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

    # expected value from an independent forward of a copy (train mode,
    # dropout-free head): the rectified loss of both heads on the labels
    twin = copy.deepcopy(model)
    with torch.no_grad():
        data = twin.data_preprocessor(copy.deepcopy(batch), True)
        out = forward_heads(twin.segmentor, data['inputs'])
        labels = torch.stack(
            [s.gt_sem_seg.data[0] for s in data['data_samples']])
        expected = twin.labelled_loss(out.primary, out.aux, labels)

    before = snapshot(model.segmentor)
    logs = model.train_step(batch, optim)
    assert 'src.loss_rect' in logs and 'tgt.loss_mr' in logs
    assert not any(k.startswith('src.decode') for k in logs)
    assert torch.allclose(logs['src.loss_rect'], expected, rtol=1e-5)
    after = snapshot(model.segmentor)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_labelled_loss_needs_two_heads(uda_env):
    import pytest
    model = build_uda(head='single',
                      labelled_loss=dict(type='RectifiedPseudoLabelLoss'))
    optim = build_optim(model)
    with pytest.raises(KeyError, match='two classifiers'):
        model.train_step(make_batch(target=False), optim)
