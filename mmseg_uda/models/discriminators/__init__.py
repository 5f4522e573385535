
from .fc_discriminator import FCDiscriminator  # noqa: F401
from .multiscale_discriminator import MultiScaleDiscriminator  # noqa: F401
