# MRNet stage I (Zheng & Yang, IJCAI 2020): AdaptSegNet's output-space
# adversarial training plus memory regularisation, the symmetric KL between
# the two heads on target images (paper Eq. 5), lambda_mr = 0.1, switched on
# after 10k iterations (release: mode='fused', 15k).
_base_ = ['./adaptsegnet.py']
model = dict(
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1),
    memory_reg_start_iter=10000,
    memory_reg_on='target')
