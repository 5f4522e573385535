# Memory regularisation added to SAC: the MR loss between the student's two
# heads on the (noisy) target views. The parts share one UDASegmentor.
_base_ = ['./sac.py']
model = dict(
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1))
