from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .ema_teacher_hook import EMATeacherHook  # noqa: F401
from .rng_state_hook import RNGStateHook  # noqa: F401
from .run_seed_hook import RunSeedHook  # noqa: F401
from .uda_dataset_check_hook import UDADatasetCheckHook  # noqa: F401
from .uda_visualization_hook import UDAVisualizationHook  # noqa: F401
from .label_free_signals_hook import LabelFreeSignalsHook  # noqa: F401
from .teacher_eval_hook import TeacherEvalHook  # noqa: F401
