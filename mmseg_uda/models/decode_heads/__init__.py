
from .dual_deeplabv2_head import DualDeepLabV2Head  # noqa: F401
