import warnings
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile

from mmseg.registry import TRANSFORMS
from ..formats import check_image_bytes, read_bytes


@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """Load an image, failing loudly on a missing, truncated or corrupt file.

    A drop-in replacement of mmcv's ``LoadImageFromFile``. The stock loader
    reports a bad file as a bare decoder error (or, for a truncated PNG, may
    return a partially decoded image); this one raises ``OSError`` /
    ``FileNotFoundError`` whose message names the file. PNGs are additionally
    checked for their closing IEND chunk before decoding.

    Required Keys:

    - img_path

    Modified Keys:

    - img
    - img_shape
    - ori_shape

    Args:
        to_float32 (bool): Whether to convert the image to float32.
            Defaults to False.
        color_type (str): The flag argument of :func:`mmcv.imfrombytes`.
            Defaults to 'color'.
        imdecode_backend (str): Decoding backend of
            :func:`mmcv.imfrombytes`. Defaults to 'cv2'.
        ignore_empty (bool): Return None (so that the dataset picks another
            sample) instead of raising, after warning with the file name.
            Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False,
                 *,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            ignore_empty=ignore_empty,
            backend_args=backend_args)

    def _load(self, filename: str) -> np.ndarray:
        content = read_bytes(filename, 'image', self.backend_args)
        check_image_bytes(content, filename)
        try:
            img = mmcv.imfrombytes(
                content, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:  # decoder errors carry no file name
            raise OSError(f'Cannot decode image file {filename}: {e}') from e
        if img is None or img.size == 0:
            raise OSError(f'Cannot decode image file {filename} (unreadable, '
                          'truncated or not an image)')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict or None: The dict with the image, or None when the file is
            bad and ``ignore_empty`` is True.
        """
        filename = results['img_path']
        try:
            img = self._load(filename)
        except OSError as e:  # FileNotFoundError is an OSError
            if self.ignore_empty:
                warnings.warn(f'Skipping sample: {e}')
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
