"""SAC's parts (Araslanov & Roth, CVPR 2021): multi-crop views, photometric
noise, multi-view fusion, adaptive pseudo labels and the self-training part
that combines them."""
from .multi_crop_views import MultiCropViews, warp_views  # noqa: F401
from .view_fusion import fuse_views  # noqa: F401
from .photometric_noise import PhotometricNoise  # noqa: F401
from .adaptive_pseudo_labeler import AdaptivePseudoLabeler  # noqa: F401
from .augmentation_consistency import AugmentationConsistency  # noqa: F401
