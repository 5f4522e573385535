# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Remote checkpoint schemes of MMEngine loaded with ``weights_only=True``.

MMEngine's :class:`~mmengine.runner.checkpoint.CheckpointLoader` resolves
``http(s)://``, ``torchvision://`` (``modelzoo://``), ``open-mmlab://``
(``openmmlab://``) and ``mmcls://`` through
``torch.hub.load_state_dict_from_url``, whose default is
``weights_only=False``: a crafted file, downloaded or already cached in
``$TORCH_HOME/hub/checkpoints``, runs pickled code when a config names it
in ``load_from``, a backbone ``init_cfg`` or ``tools/test.py``. Local,
``pavi://`` and ``s3://`` files go through ``torch.load`` with torch's
default ``weights_only=True`` and are safe already.

This module re-registers the four remote schemes (``force=True``, the
registry mechanism MMEngine provides for it) with loaders that resolve the
same URLs from MMEngine's own model tables (looked up on
:mod:`mmengine.runner.checkpoint` at call time) and load them with
``weights_only=True``, i.e. with the allow-list of
:mod:`mmseg_uda.utils.checkpoint_safety`. A refused file raises
:class:`pickle.UnpicklingError` naming the URL and the cached file.
Importing :mod:`mmseg_uda` registers them.
"""
import os
import os.path as osp
import pickle
from urllib.parse import urlparse

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_dist_info
from mmengine.runner import checkpoint as mmengine_ckpt
from mmengine.runner.checkpoint import CheckpointLoader

#: The schemes this module takes over from MMEngine.
REMOTE_PREFIXES = ('http://', 'https://', 'modelzoo://', 'torchvision://',
                   'open-mmlab://', 'openmmlab://', 'mmcls://')


def cached_file(url: str, model_dir=None) -> str:
    """Where ``torch.hub`` caches the download of ``url``."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def safe_load_url(url: str, map_location=None, model_dir=None) -> dict:
    """Download (or reuse the cached) ``url`` and load it weights-only.

    Args:
        url (str): An ``http(s)://`` URL.
        map_location: As for :func:`torch.load`.
        model_dir (str, optional): Cache directory; ``torch.hub``'s default
            (``$TORCH_HOME/hub/checkpoints``) if None.

    Returns:
        dict: The checkpoint.

    Raises:
        pickle.UnpicklingError: If the file holds anything but tensors and
            the allow-listed MMEngine objects (it could run code).
    """
    try:
        return torch.hub.load_state_dict_from_url(
            url,
            model_dir=model_dir,
            map_location=map_location,
            progress=os.isatty(0),
            weights_only=True)
    except pickle.UnpicklingError as e:
        reason = (str(e).strip().splitlines() or [''])[0]
        raise pickle.UnpicklingError(
            f'refused to load the checkpoint {url} (cached as '
            f'{cached_file(url, model_dir)}): it contains pickled objects '
            f'beyond tensors and the allow-listed MMEngine globals, which '
            f'could run code ({reason}). Delete the cached file and use '
            'checkpoints from a source you trust.') from e


def load_from_http(filename, map_location=None, model_dir=None):
    """``http(s)://`` checkpoints; local rank 0 downloads first (as in
    MMEngine), the other ranks then read the cache."""
    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = safe_load_url(filename, map_location, model_dir)
    if world_size > 1:
        torch_dist.barrier()
        if rank > 0:
            checkpoint = safe_load_url(filename, map_location, model_dir)
    return checkpoint


def load_from_torchvision(filename, map_location=None):
    """``torchvision://NAME`` (``modelzoo://NAME``): torchvision's URL."""
    name = filename.split('://', 1)[1]
    url = mmengine_ckpt.get_torchvision_models()[name]
    return load_from_http(url, map_location)


def load_from_openmmlab(filename, map_location=None):
    """``open-mmlab://NAME`` (``openmmlab://NAME``): MMEngine's model table
    (deprecated names mapped), a URL or a file under MMEngine's home."""
    name = filename.split('://', 1)[1]
    name = mmengine_ckpt.get_deprecated_model_names().get(name, name)
    url = mmengine_ckpt.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    path = osp.join(mmengine_ckpt._get_mmengine_home(), url)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    return torch.load(path, map_location=map_location, weights_only=True)


def load_from_mmcls(filename, map_location=None):
    """``mmcls://NAME``: MMClassification's URL, keys as MMEngine maps
    them."""
    url = mmengine_ckpt.get_mmcls_models()[filename[len('mmcls://'):]]
    return mmengine_ckpt._process_mmcls_checkpoint(
        load_from_http(url, map_location))


def register_safe_loaders() -> None:
    """Override MMEngine's remote schemes (idempotent)."""
    for prefixes, loader in [(('http://', 'https://'), load_from_http),
                             (('modelzoo://', 'torchvision://'),
                              load_from_torchvision),
                             (('open-mmlab://', 'openmmlab://'),
                              load_from_openmmlab),
                             ('mmcls://', load_from_mmcls)]:
        CheckpointLoader.register_scheme(prefixes, loader, force=True)


register_safe_loaders()
