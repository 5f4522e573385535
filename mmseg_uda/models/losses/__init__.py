
from .memory_reg_loss import MemoryRegLoss  # noqa: F401
from .gan_loss import GANLoss, r1_gradient_penalty  # noqa: F401
from .class_balanced_ce import ClassBalancedCrossEntropyLoss  # noqa: F401
from .focal_confidence_loss import FocalConfidenceLoss  # noqa: F401
from .rectified_pseudo_label_loss import RectifiedPseudoLabelLoss  # noqa
