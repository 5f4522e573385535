from . import hooks, optimizers, samplers, wrappers  # noqa: F401
