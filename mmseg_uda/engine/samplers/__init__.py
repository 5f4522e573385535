
from .uda_sampler import UDAInfiniteSampler  # noqa: F401
