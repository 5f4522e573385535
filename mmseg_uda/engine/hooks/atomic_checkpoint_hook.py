# Copyright (c) mmseg_uda contributors. All rights reserved.
"""A :class:`~mmengine.hooks.CheckpointHook` that cannot lose the last
complete checkpoint."""
import os
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

#: Suffix of a checkpoint being written (never matched by ``*.pth``).
TMP_SUFFIX = '.tmp'


def fsync_path(path: str) -> None:
    """Flush a file (or a directory entry table) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str, text: str) -> None:
    """Replace ``path`` by a file holding ``text`` in one step.

    The text goes to ``path + '.tmp'`` first, is flushed to the disk and
    then renamed over ``path`` (:func:`os.replace` is atomic on POSIX), so
    a reader sees either the old or the new content, never a torn one.

    Args:
        path (str): The file to (re)write.
        text (str): Its new content.
    """
    tmp = path + TMP_SUFFIX
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(osp.dirname(osp.abspath(path)))


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints survive a kill or a full disk.

    MMEngine's hook deletes the oldest checkpoint (``max_keep_ckpts``)
    *before* it writes the new one, writes the new one in place and then
    ``last_checkpoint``: a SIGKILL or an ``OSError`` (disk full) in between
    leaves a truncated file, no complete checkpoint, and a
    ``last_checkpoint`` naming a deleted file. This hook keeps MMEngine's
    bookkeeping (``keep_ckpt_ids`` in the message hub, ``filename_tmpl``,
    ``save_best``, ``published_keys``) and reorders the file operations for
    local output directories:

    1. the checkpoint is written to ``.<name>.tmp`` in the same directory
       (by :meth:`Runner.save_checkpoint`, so every
       ``before_save_checkpoint`` hook still runs), flushed with
       :func:`os.fsync` and renamed to ``<name>`` (:func:`os.replace`,
       atomic);
    2. ``last_checkpoint`` is then replaced atomically the same way;
    3. only then are checkpoints beyond ``max_keep_ckpts`` deleted.

    At every instant the work dir therefore holds a complete checkpoint
    named by ``last_checkpoint`` (once the first one is written). A write
    that fails removes its temporary file and re-raises with the file
    named. Left-over ``*.tmp`` files of a killed run are removed before
    training. Other storage backends (``backend_args``) use MMEngine's
    behaviour unchanged, as do ``save_best`` checkpoints (not used for
    resuming). ``--resume`` (:func:`mmseg_uda.utils.resume
    .resolve_resume`) in turn verifies the checkpoint it resumes from.

    Args:
        See :class:`mmengine.hooks.CheckpointHook`.
    """

    def _is_local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def before_train(self, runner) -> None:
        """Remove temporary files of an interrupted save, then MMEngine's
        set-up (which may delete checkpoints beyond ``max_keep_ckpts``)."""
        super().before_train(runner)
        if self._is_local() and is_main_process() and osp.isdir(
                self.out_dir):
            for name in os.listdir(self.out_dir):
                if name.startswith('.') and name.endswith(TMP_SUFFIX):
                    os.remove(osp.join(self.out_dir, name))

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale = self._update_keep_ids(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._save_atomic(runner, filename, meta)
        if not is_main_process():
            return
        write_text_atomic(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in stale:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if path != self.last_ckpt and osp.isfile(path):
                os.remove(path)

    def _update_keep_ids(self, runner, step) -> List[int]:
        """MMEngine's ``keep_ckpt_ids`` update, returning the steps whose
        files are to be deleted (after the new checkpoint is complete)."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
            return []
        stale = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            stale.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return stale

    def _save_atomic(self, runner, filename: str, meta: dict) -> None:
        """``runner.save_checkpoint`` to a temporary name, then rename."""
        tmp_name = f'.{filename}{TMP_SUFFIX}'
        tmp = osp.join(self.out_dir, tmp_name)
        final = osp.join(self.out_dir, filename)
        try:
            runner.save_checkpoint(
                self.out_dir,
                tmp_name,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if not is_main_process():  # Runner.save_checkpoint is master-only
                return
            fsync_path(tmp)
            os.replace(tmp, final)
            fsync_path(self.out_dir)
        except OSError as e:
            if osp.exists(tmp):
                os.remove(tmp)
            raise OSError(
                e.errno, f'could not write the checkpoint {final} ({e}); '
                'the previous checkpoints and last_checkpoint are kept '
                'unchanged (--resume continues from them)') from e
