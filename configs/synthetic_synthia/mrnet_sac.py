# Memory regularisation added to SAC on the synthetic SYNTHIA -> Cityscapes
# benchmark (16 classes): the MR loss between the student's two heads on the
# (noisy) target views. configs/synthetic/mrnet_sac.py with the SYNTHIA
# bases.
_base_ = ['./sac.py']
model = dict(
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1))
