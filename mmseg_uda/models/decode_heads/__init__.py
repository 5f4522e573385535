
from .dual_deeplabv2_head import DualDeepLabV2Head  # noqa: F401
from .deeplabv2_head import DeepLabV2Head  # noqa: F401
