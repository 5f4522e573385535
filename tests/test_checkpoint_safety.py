"""Checkpoints load under torch's weights_only=True default; payloads don't."""
import io
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint

import mmseg_uda  # noqa: F401  (registers the allow-list)
from mmseg_uda.utils.checkpoint_safety import history_buffer_getattr


def _mmengine_like_checkpoint():
    hub = MessageHub.get_instance('test_checkpoint_safety')
    for i in range(3):
        hub.update_scalar('train/loss', 0.5 * i)
        hub.update_scalar('train/lr', np.float32(0.01))
        hub.update_scalar('val/mIoU', np.float64(42.0))
    hub.update_info('iter', 3)
    return dict(
        meta=dict(seed=np.int64(7), iter=3, acc=np.float32(0.5)),
        message_hub=hub.state_dict(),
        state_dict={'conv.weight': torch.arange(6.).view(2, 3)},
        optimizer={'state': {}, 'param_groups': [{'lr': 0.01}]})


def test_torch_default_is_weights_only():
    # The mend must not rely on weights_only being off.
    import inspect
    sig = inspect.signature(torch.load)
    assert sig.parameters['weights_only'].default in (None, True)


def test_mmengine_checkpoint_loads_safely(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint(_mmengine_like_checkpoint(), path)
    ckpt = torch.load(path)  # default weights_only=True
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(0.5)
    assert buf.max() == pytest.approx(1.0)
    assert ckpt['meta']['seed'] == 7
    assert torch.equal(ckpt['state_dict']['conv.weight'],
                       torch.arange(6.).view(2, 3))
    # and through mmengine's own loader (used by load_from / resume)
    model = torch.nn.Module()
    model.conv = torch.nn.Linear(3, 2, bias=False)
    load_checkpoint(model, path, map_location='cpu')
    assert torch.equal(model.conv.weight.data, torch.arange(6.).view(2, 3))


class _Payload:
    """Pickles to os.system(...) - arbitrary code on load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_code_payload_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _Payload(str(marker))}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    with pytest.raises(Exception):
        load_checkpoint(torch.nn.Linear(1, 1), path, map_location='cpu')
    assert not marker.exists()


def _pickle_getattr_chain():
    """getattr(HistoryBuffer.min, '__globals__'): a step towards eval."""
    buf = io.BytesIO()
    buf.write(b'\x80\x02')
    buf.write(b'c__builtin__\ngetattr\n')
    buf.write(b'cmmengine.logging.history_buffer\nHistoryBuffer\n')
    buf.write(b'X\x03\x00\x00\x00min')
    buf.write(b'\x86R')  # TUPLE2, REDUCE -> HistoryBuffer.min
    buf.write(b'q\x00')  # memo the function
    buf.write(b'0')  # pop
    buf.write(b'c__builtin__\ngetattr\n')
    buf.write(b'h\x00')
    buf.write(b'X\x0b\x00\x00\x00__globals__')
    buf.write(b'\x86R.')
    return buf.getvalue()


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    assert history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for obj, name in [(HistoryBuffer, '__init__'), (HistoryBuffer, '__dict__'),
                      (os, 'system'), (HistoryBuffer.min, '__globals__')]:
        with pytest.raises(pickle.UnpicklingError):
            history_buffer_getattr(obj, name)
    # and end to end through torch.load's safe unpickler
    path = tmp_path / 'chain.pth'
    buffer = io.BytesIO()
    torch.save({'x': 1}, buffer)
    import zipfile
    src = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, 'w') as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith('data.pkl'):
                data = _pickle_getattr_chain()
            dst.writestr(item, data)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(str(path))
