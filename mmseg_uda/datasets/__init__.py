from . import transforms  # noqa: F401
from .cityscapes_raw import CityscapesRawDataset
from .gta5 import GTA5Dataset
from .image_folder import ImageFolderDataset
from .label_mappings import (LABEL_MAPPINGS, LABEL_SPACES, LabelMapping,
                             apply_label_mapping, build_lut,
                             get_label_mapping, get_label_space)
from .pseudo_label_dataset import PseudoLabelDataset  # noqa: F401
from .robotcar import RobotCarDataset
from .synthia import SynthiaDataset
from .transforms import (LabelWarning, LoadCheckedImageFromFile,
                         LoadMappedAnnotations)
from .uda_dataset import UDADataset

__all__ = [
    'CityscapesRawDataset', 'GTA5Dataset', 'ImageFolderDataset', 'RobotCarDataset',
    'SynthiaDataset', 'UDADataset', 'LoadCheckedImageFromFile',
    'LoadMappedAnnotations', 'LabelWarning', 'LABEL_MAPPINGS', 'LABEL_SPACES',
    'LabelMapping', 'apply_label_mapping', 'build_lut', 'get_label_mapping',
    'get_label_space'
]
