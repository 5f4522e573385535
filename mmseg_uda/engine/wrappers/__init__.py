from .gradient_sync import all_reduce_gradients, average_buffers  # noqa: F401
from .uda_distributed_wrapper import UDADistributedWrapper  # noqa: F401
