from . import hooks, optimizers, samplers  # noqa: F401
