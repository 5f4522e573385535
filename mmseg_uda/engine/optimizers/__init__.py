from .bf16_autocast_optim_wrapper import BF16AutocastOptimWrapper  # noqa: F401
from .guarded_optim_wrapper import (GuardedAmpOptimWrapper,  # noqa: F401
                                    GuardedOptimWrapper, GuardedUpdateMixin)
from .uda_optim_wrapper_constructor import UDAOptimWrapperConstructor  # noqa: F401
