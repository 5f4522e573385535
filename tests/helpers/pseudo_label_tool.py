"""Running ``tools/gen_pseudo_labels.py`` on an in-memory stage-I model.

Shared by ``tests/test_stage2.py`` and ``tests/test_pseudo_label_selection.py``:
the model's weights are saved as a checkpoint and its config dumped next to
it, so that the tool loads exactly the network the test holds.
"""
import os
import os.path as osp
import subprocess
import sys
from typing import Sequence, Tuple

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'gen_pseudo_labels.py')


def save_stage1(model, cfg, folder, name: str = 'stage1') -> Tuple[str, str]:
    """Write ``folder/<name>.pth`` (the weights of ``model``) and
    ``folder/<name>.py`` (``cfg`` in mmseg's scope); return (config path,
    checkpoint path)."""
    ckpt = osp.join(str(folder), f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    cfg.default_scope = 'mmseg'
    cfg_path = osp.join(str(folder), f'{name}.py')
    cfg.dump(cfg_path)
    return cfg_path, ckpt


def gen_pseudo_labels_cmd(cfg_path: str, ckpt: str, out: str,
                          *args: str) -> list:
    """The tool's command line on the CPU, with extra ``args``."""
    return [sys.executable, TOOL, cfg_path, ckpt, '--out', out, '--device',
            'cpu'] + list(args)


def run_tool(cmd: Sequence[str],
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` with the repository importable, no GPU and one thread;
    with ``check`` assert that it succeeded (its stderr on failure)."""
    env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES='',
               OMP_NUM_THREADS='1')
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
