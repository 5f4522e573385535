
from .output_space_adversary import OutputSpaceAdversary  # noqa: F401
from .student_outputs import HeadOutputs, forward_heads  # noqa: F401
