from .ema_teacher_hook import EMATeacherHook  # noqa: F401
