"""On-disk formats of the UDA benchmarks: readers.

Used by the loading transforms (checked image bytes, label decoding of each
release's label kind). The writers of the same formats and the release
layouts are in :mod:`mmseg_uda.benchmarks.synthetic.formats`.
"""
import io
import os
import struct
from typing import Optional, Tuple, Union

import cv2
import numpy as np
from mmengine import fileio
from PIL import Image

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_IEND_CHUNK = b'IEND\xaeB`\x82'
_PNG_PALETTE_COLOR_TYPE = 3
_CHANNELS = {'R': 2, 'G': 1, 'B': 0}  # index into a cv2 (BGR) array

# --------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------


def png_header(content: bytes) -> Optional[Tuple[int, int, int, int]]:
    """Parse the IHDR chunk of PNG bytes.

    Args:
        content (bytes): File content.

    Returns:
        tuple or None: ``(width, height, bit_depth, color_type)``, or None if
        ``content`` is not a PNG.
    """
    if not content.startswith(PNG_SIGNATURE) or len(content) < 33 \
            or content[12:16] != b'IHDR':
        return None
    width, height, bit_depth, color_type = struct.unpack(
        '>IIBB', content[16:26])
    return width, height, bit_depth, color_type


def check_image_bytes(content: bytes, path: str) -> None:
    """Raise if ``content`` is empty or a PNG without its end chunk.

    Decoders may silently return a partially decoded image for a truncated
    PNG (e.g. Pillow with ``LOAD_TRUNCATED_IMAGES``); the IEND check catches
    that independently of the decoder.

    Args:
        content (bytes): File content.
        path (str): File name used in the error message.
    """
    if not content:
        raise OSError(f'Image file {path} is empty')
    if content.startswith(PNG_SIGNATURE[:4]):
        if png_header(content) is None or content.rfind(_IEND_CHUNK) < 0:
            raise OSError(f'Image file {path} is a truncated or corrupt PNG '
                          '(no IEND chunk); re-download or regenerate it')


def decode_label(content: bytes,
                 path: str,
                 channel: Optional[str] = None) -> np.ndarray:
    """Decode label-map bytes into a 2-D array of raw ids.

    - Palette PNGs (GTA5) are decoded with Pillow to their pixel indices, not
      their colours.
    - Other PNGs are decoded with OpenCV unchanged, keeping 16-bit depth.
    - Multi-channel labels (SYNTHIA) need ``channel`` ('R', 'G' or 'B', in
      RGB terms). Without it a multi-channel label is accepted only when all
      colour channels are identical.

    Args:
        content (bytes): File content.
        path (str): File name used in error messages.
        channel (str, optional): Channel holding the ids of a multi-channel
            label. Defaults to None.

    Returns:
        np.ndarray: (H, W) uint8 or uint16 ids.
    """
    check_image_bytes(content, path)
    header = png_header(content)
    try:
        if header is not None and header[3] == _PNG_PALETTE_COLOR_TYPE:
            with Image.open(io.BytesIO(content)) as img:
                if img.mode != 'P':
                    raise OSError(f'unexpected Pillow mode {img.mode}')
                label = np.array(img)
        else:
            label = cv2.imdecode(
                np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    except Exception as e:  # decoder errors carry no file name
        raise OSError(f'Cannot decode label file {path}: {e}') from e
    if label is None or label.size == 0:
        raise OSError(f'Cannot decode label file {path} (unreadable, '
                      'truncated or not an image)')
    if label.ndim == 3:
        if label.shape[2] == 1:
            label = label[..., 0]
        elif channel is not None:
            if channel not in _CHANNELS:
                raise ValueError(f'channel must be one of {list(_CHANNELS)}, '
                                 f'got {channel!r}')
            label = label[..., _CHANNELS[channel]]
        else:
            colour = label[..., :3]
            if not ((colour == colour[..., :1]).all()):
                raise ValueError(
                    f'Label file {path} has {label.shape[2]} channels with '
                    'different values; set the channel holding the class '
                    "ids (`label_channel`, e.g. 'R' for SYNTHIA). A colour-"
                    'coded label cannot be read as ids.')
            label = label[..., 0]
    return np.ascontiguousarray(label)


def read_label(path: str,
               channel: Optional[str] = None,
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a label map file into a 2-D array of raw ids.

    See :func:`decode_label` for the format handling.

    Args:
        path (str): Label file.
        channel (str, optional): Channel of a multi-channel label.
        backend_args (dict, optional): mmengine file backend arguments.
    """
    return decode_label(read_bytes(path, 'label', backend_args), path,
                        channel)


def read_bytes(path: Union[str, 'os.PathLike'],
               what: str = 'file',
               backend_args: Optional[dict] = None) -> bytes:
    """Read a file with mmengine's file backends, naming it on failure.

    Args:
        path (str): File to read.
        what (str): Kind of file for the error message.
        backend_args (dict, optional): mmengine file backend arguments.
    """
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{what.capitalize()} file {path} does not '
                                'exist') from e
    except OSError as e:
        raise OSError(f'Cannot read {what} file {path}: {e}') from e
