# Quick start:
#   make demo       set up .venv, generate the synthetic benchmark, train and
#                   evaluate source-only, MRNet (stages I and II), ABN and SAC
#                   on it (2 runs at a time; about 9 minutes after setup on
#                   2 CPU cores), print the target mIoU table
#   make test       set up .venv and run the test suite
# More:
#   make bench-accuracy  every method (oracle, source-only, AdaptSegNet,
#                   MRNet I/II, ABN, SAC, MR+SAC) x 3 seeds on the GTA-format
#                   and SYNTHIA-format -> Cityscapes-format benchmarks:
#                   tables and mIoU curves in docs/results/
#   make bench-speed  step time, data time, memory and overhead ratios
#                   (tools/benchmark.py)
PY := .venv/bin/python
DATA := data/synthetic
SYN := configs/synthetic
SYNTHIA := configs/synthetic_synthia
METHODS := oracle source_only adaptsegnet mrnet mrnet_stage2 abn sac mrnet_sac
DEMO_CONFIGS ?= $(SYN)/source_only.py $(SYN)/mrnet.py $(SYN)/mrnet_stage2.py \
	$(SYN)/abn.py $(SYN)/sac.py
SEEDS ?= 0 1 2
JOBS ?= 2

.PHONY: setup data demo bench-accuracy bench-speed test clean-demo

setup:
	@bash tools/setup_env.sh

$(DATA)/.complete: | setup
	$(PY) tools/make_synthetic.py --out $(DATA)
	@touch $@

data: setup $(DATA)/.complete

demo: setup data
	$(PY) tools/run_benchmark.py $(DEMO_CONFIGS) --jobs $(JOBS) \
		--work-root work_dirs/demo --title 'Demo: GTA-format -> Cityscapes-format, seed 0'

bench-accuracy: setup data
	$(PY) tools/run_benchmark.py $(METHODS:%=$(SYN)/%.py) --seeds $(SEEDS) \
		--jobs $(JOBS) --work-root work_dirs/synthetic \
		--title 'Synthetic GTA-format -> Cityscapes-format' \
		--out docs/results/synthetic_gta2cs.md \
		--plot docs/results/synthetic_gta2cs_miou.png
	$(PY) tools/run_benchmark.py $(METHODS:%=$(SYNTHIA)/%.py) --seeds $(SEEDS) \
		--jobs $(JOBS) --work-root work_dirs/synthetic_synthia \
		--title 'Synthetic SYNTHIA-format -> Cityscapes-format (16 classes)' \
		--out docs/results/synthetic_synthia2cs.md \
		--plot docs/results/synthetic_synthia2cs_miou.png

bench-speed: setup
	OMP_NUM_THREADS=1 $(PY) tools/benchmark.py --out docs/results/speed_cpu.md

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-demo:
	rm -rf work_dirs/demo
