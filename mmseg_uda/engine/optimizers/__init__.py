from .bf16_autocast_optim_wrapper import BF16AutocastOptimWrapper  # noqa: F401
from .uda_optim_wrapper_constructor import UDAOptimWrapperConstructor  # noqa: F401
