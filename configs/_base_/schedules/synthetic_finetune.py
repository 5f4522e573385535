# Schedule of the synthetic benchmark's second stages (SAC after ABN, MRNet
# stage II after stage I): the synthetic schedule restarted at a quarter of
# its base lr. The first stage ends its poly schedule at lr ~0; restarting
# at the full 0.01 cost SAC 8 mIoU and stage II 2 mIoU in their first 100
# iterations (seed 0). The paper uses one constant lr for both SAC stages.
_base_ = ['./synthetic.py']
optim_wrapper = dict(segmentor=dict(optimizer=dict(lr=0.0025)))
