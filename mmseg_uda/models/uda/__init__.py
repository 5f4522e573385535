
from .output_space_adversary import OutputSpaceAdversary  # noqa: F401
from .student_outputs import HeadOutputs, forward_heads  # noqa: F401
from .multi_crop_views import MultiCropViews, warp_views  # noqa: F401
from .view_fusion import fuse_views  # noqa: F401
from .photometric_noise import PhotometricNoise  # noqa: F401
from .adaptive_pseudo_labeler import AdaptivePseudoLabeler  # noqa: F401
from .augmentation_consistency import AugmentationConsistency  # noqa: F401
