"""Adaptation parts shared by the UDA methods (adversary, momentum teacher,
student outputs, what each part needs of the target images)."""
from .output_space_adversary import OutputSpaceAdversary  # noqa: F401
from .student_outputs import HeadOutputs, forward_heads  # noqa: F401
from .target_use import BN_STATS, FORWARD, TargetBNPass  # noqa: F401
