
from .uda_sampler import UDAInfiniteSampler  # noqa: F401
from .class_balanced_sampler import ClassBalancedTargetSampler  # noqa: F401
from .uda_batch_sampler import UDABatchSampler  # noqa: F401
