"""On-disk formats of the UDA benchmarks: readers, writers and layouts.

Readers are used by the loading transforms; writers produce files that are
byte-for-byte of the same *kind* as the real releases (palette PNGs for GTA5,
16-bit 3-channel PNGs for SYNTHIA, 8-bit grey PNGs for Cityscapes and
RobotCar), so tests and synthetic benchmarks exercise the real code paths.

Layouts (relative to each dataset's root):

- GTA5: ``images/NNNNN.png`` and ``labels/NNNNN.png`` (5 digits, palette
  PNG whose pixel *indices* are Cityscapes label ids).
- SYNTHIA-RAND-CITYSCAPES: ``RGB/NNNNNNN.png`` and ``GT/LABELS/NNNNNNN.png``
  (7 digits, 16-bit 3-channel PNG, class id in the first (R) channel,
  instance ids in G/B).
- Cityscapes: ``leftImg8bit/SPLIT/CITY/STEM_leftImg8bit.png`` and
  ``gtFine/SPLIT/CITY/STEM_gtFine_labelIds.png`` (8-bit label ids), or
  ``STEM_gtFine_labelTrainIds.png`` (converted 19-class train ids).
- Oxford RobotCar (``Oxford_Robot_ICCV19``): ``SPLIT/NAME.png`` images and
  ``anno/NAME.png`` (8-bit RobotCar ids, val only).
"""
import io
import os
import os.path as osp
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

# Cityscapes colours of label ids 0..33 (the palette GTA5 label PNGs carry).
CITYSCAPES_ID_COLORS = [
    (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (111, 74, 0),
    (81, 0, 81), (128, 64, 128), (244, 35, 232), (250, 170, 160),
    (230, 150, 140), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (180, 165, 180), (150, 100, 100), (150, 120, 90), (153, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35),
    (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142),
    (0, 0, 70), (0, 60, 100), (0, 0, 90), (0, 0, 110), (0, 80, 100),
    (0, 0, 230), (119, 11, 32)
]

# --------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------


def gta5_paths(root: str, index: int) -> Tuple[str, str]:
    """``(image, label)`` paths of GTA5 sample ``index`` (5-digit names)."""
    name = f'{index:05d}.png'
    return osp.join(root, 'images', name), osp.join(root, 'labels', name)


def synthia_paths(root: str, index: int) -> Tuple[str, str]:
    """``(image, label)`` paths of SYNTHIA sample ``index`` (7 digits)."""
    name = f'{index:07d}.png'
    return (osp.join(root, 'RGB', name),
            osp.join(root, 'GT', 'LABELS', name))


def cityscapes_paths(root: str,
                     split: str,
                     city: str,
                     stem: str,
                     train_ids: bool = False) -> Tuple[str, str]:
    """``(image, label)`` paths of a Cityscapes sample.

    Args:
        root (str): Cityscapes root (holding ``leftImg8bit`` and ``gtFine``).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        city (str): City folder, e.g. ``'aachen'``.
        stem (str): Frame stem, e.g. ``'aachen_000000_000019'``.
        train_ids (bool): Return the ``*_gtFine_labelTrainIds.png`` path
            instead of ``*_gtFine_labelIds.png``. Defaults to False.
    """
    kind = 'labelTrainIds' if train_ids else 'labelIds'
    return (osp.join(root, 'leftImg8bit', split, city,
                     f'{stem}_leftImg8bit.png'),
            osp.join(root, 'gtFine', split, city, f'{stem}_gtFine_{kind}.png'))


def robotcar_paths(root: str, split: str, name: str) -> Tuple[str, str]:
    """``(image, label)`` paths of an Oxford RobotCar sample.

    Args:
        root (str): The ``Oxford_Robot_ICCV19`` folder.
        split (str): ``'train'`` or ``'val'``.
        name (str): File stem without ``.png``.
    """
    return (osp.join(root, split, f'{name}.png'),
            osp.join(root, 'anno', f'{name}.png'))


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------


def _prepare(path: str) -> None:
    dirname = osp.dirname(path)
    if dirname:
        os.makedirs(dirname, exist_ok=True)


def _check_ids(ids: np.ndarray, max_value: int, what: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f'{what} must be a 2-D (H, W) array, '
                         f'got shape {ids.shape}')
    if ids.size and (ids.min() < 0 or ids.max() > max_value):
        raise ValueError(f'{what} must hold values in [0, {max_value}], '
                         f'got [{ids.min()}, {ids.max()}]')
    return ids


def save_image(img: np.ndarray, path: str) -> None:
    """Save an RGB uint8 (H, W, 3) image as an 8-bit RGB PNG.

    Args:
        img (np.ndarray): Image in RGB channel order.
        path (str): Output path; parent folders are created.
    """
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError('img must be a uint8 (H, W, 3) RGB array, got '
                         f'{img.dtype} {img.shape}')
    _prepare(path)
    Image.fromarray(np.ascontiguousarray(img)).save(path)


def save_gta5_label(ids: np.ndarray, path: str) -> None:
    """Save Cityscapes label ids as a GTA5-style palette ('P' mode) PNG.

    The pixel indices are the ids; the palette holds the Cityscapes colours,
    so a reader that converts to RGB gets colours, not ids.

    Args:
        ids (np.ndarray): (H, W) integer label ids in [0, 255].
        path (str): Output path; parent folders are created.
    """
    ids = _check_ids(ids, 255, 'GTA5 label ids')
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:len(CITYSCAPES_ID_COLORS)] = CITYSCAPES_ID_COLORS
    # Give ids without a colour a distinct, non-grey colour.
    extra = np.arange(len(CITYSCAPES_ID_COLORS), 256)
    palette[extra] = np.stack([extra, 255 - extra, (extra * 7) % 256], 1)
    img = Image.fromarray(np.ascontiguousarray(ids, dtype=np.uint8))
    img.putpalette(palette.ravel().tolist())  # 'L' -> 'P', same indices
    if img.mode != 'P':
        raise RuntimeError(f'Pillow produced mode {img.mode}, expected P')
    _prepare(path)
    img.save(path)


def save_synthia_label(ids: np.ndarray,
                       path: str,
                       instance_ids: Optional[np.ndarray] = None) -> None:
    """Save SYNTHIA class ids as a 16-bit 3-channel PNG.

    The class id goes to the first channel in RGB order (R); G and B hold
    ``instance_ids`` (junk for semantic segmentation).

    Args:
        ids (np.ndarray): (H, W) SYNTHIA class ids in [0, 65535].
        path (str): Output path; parent folders are created.
        instance_ids (np.ndarray, optional): (H, W) values for G and B.
            Defaults to a fixed non-zero pattern.
    """
    ids = _check_ids(ids, 65535, 'SYNTHIA label ids')
    if instance_ids is None:
        h, w = ids.shape
        instance_ids = (np.arange(h * w).reshape(h, w) * 37 + 1000) % 65536
    instance_ids = _check_ids(instance_ids, 65535, 'SYNTHIA instance ids')
    if instance_ids.shape != ids.shape:
        raise ValueError('instance_ids must have the shape of ids')
    bgr = np.stack([
        instance_ids.astype(np.uint16),
        (instance_ids.astype(np.uint16) ^ 0x5A5A),
        ids.astype(np.uint16)
    ], axis=-1)
    _prepare(path)
    if not cv2.imwrite(path, bgr):
        raise OSError(f'Failed to write {path}')


def save_gray_label(ids: np.ndarray, path: str) -> None:
    """Save ids as an 8-bit single-channel ('L' mode) PNG.

    This is the format of Cityscapes ``*_gtFine_labelIds.png`` (raw label
    ids), ``*_gtFine_labelTrainIds.png`` (train ids) and RobotCar ``anno``.

    Args:
        ids (np.ndarray): (H, W) integer ids in [0, 255].
        path (str): Output path; parent folders are created.
    """
    ids = _check_ids(ids, 255, 'label ids')
    _prepare(path)
    Image.fromarray(np.ascontiguousarray(ids, dtype=np.uint8)).save(path)


#: Cityscapes ``*_gtFine_labelIds.png`` / ``*_labelTrainIds.png`` writer.
save_cityscapes_label = save_gray_label
#: Oxford RobotCar ``anno/NAME.png`` writer.
save_robotcar_label = save_gray_label
#: Oxford RobotCar ``SPLIT/NAME.png`` image writer.
save_robotcar_image = save_image


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
