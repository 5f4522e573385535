# Quick start:
#   make demo       set up .venv, generate the synthetic benchmark, train and
#                   evaluate source-only and the oracle (about 8 minutes
#                   after setup on 2 CPU cores), print the target mIoU table
#   make test       set up .venv and run the test suite
# More:
#   make demo-full  every method (oracle, AdaptSegNet, MRNet I/II, ABN, SAC,
#                   MR+SAC) on the GTA-format -> Cityscapes-format benchmark
#   make bench-speed  step-time ratios (tools/benchmark.py)
PY := .venv/bin/python
DATA := data/synthetic
SYN := configs/synthetic
DEMO_CONFIGS ?= $(SYN)/source_only.py $(SYN)/oracle.py
FULL_CONFIGS ?= $(SYN)/oracle.py $(SYN)/source_only.py $(SYN)/adaptsegnet.py \
	$(SYN)/mrnet.py $(SYN)/mrnet_stage2.py $(SYN)/abn.py $(SYN)/sac.py \
	$(SYN)/mrnet_sac.py
SEEDS ?= 0

.PHONY: setup data demo demo-full bench-speed test clean-demo

setup:
	@bash tools/setup_env.sh

$(DATA)/.complete: | setup
	$(PY) tools/make_synthetic.py --out $(DATA)
	@touch $@

data: setup $(DATA)/.complete

demo: setup data
	$(PY) tools/run_benchmark.py $(DEMO_CONFIGS) --work-root work_dirs/demo

demo-full: setup data
	$(PY) tools/run_benchmark.py $(FULL_CONFIGS) --seeds $(SEEDS) \
		--work-root work_dirs/synthetic --out docs/results/synthetic_gta2cs.md

bench-speed: setup
	$(PY) tools/benchmark.py --out docs/results/speed_cpu.md

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-demo:
	rm -rf work_dirs/demo
