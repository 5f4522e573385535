from . import transforms  # noqa: F401
from .cityscapes_raw import CityscapesRawDataset  # noqa: F401
from .gta5 import GTA5Dataset  # noqa: F401
from .label_mappings import (LABEL_MAPPINGS, LABEL_SPACES,  # noqa: F401
                             apply_label_mapping, build_lut,
                             get_label_mapping, get_label_space)
from .robotcar import RobotCarDataset  # noqa: F401
from .synthia import SynthiaDataset  # noqa: F401
from .transforms import (LabelWarning, LoadCheckedImageFromFile,  # noqa: F401
                         LoadMappedAnnotations)
from .uda_dataset import UDADataset  # noqa: F401
