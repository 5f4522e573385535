# Quick start:
#   make demo       set up .venv, generate the synthetic benchmark, run the
#                   benchmark protocol on seed 0 for source-only, MRNet I and
#                   II, SAC (with the shared source-only and ABN starts; 2 runs
#                   at a time on 2 CPU cores), print the tables
#   make test       set up .venv and run the test suite (2 pytest-xdist
#                   workers: 7.5 min on 2 cores; TEST_WORKERS=0: one process)
# More:
#   make bench-accuracy  the manifests of configs/benchmarks/ (oracle, shared
#                   starts, source-only, AdaptSegNet, MRNet I/II, ABN, SAC,
#                   MR+SAC) x 3 seeds on the GTA-format and SYNTHIA-format ->
#                   Cityscapes-format benchmarks: tables, paired differences,
#                   timings and mIoU curves in docs/results/
#   make bench-speed  step time, data time, memory and overhead ratios
#                   (tools/benchmark.py)
PY := .venv/bin/python
DATA := data/synthetic
BENCH := configs/benchmarks
DEMO_RUNS ?= source_only mrnet mrnet_stage2 sac
SEEDS ?= 0 1 2
JOBS ?= 2
# test processes (pytest-xdist); TEST_WORKERS=0 runs the suite in one process
TEST_WORKERS ?= 2

.PHONY: setup data demo bench-accuracy bench-speed test clean-demo

setup:
	@bash tools/setup_env.sh

$(DATA)/.complete: | setup
	$(PY) tools/make_synthetic.py --out $(DATA)
	@touch $@

data: setup $(DATA)/.complete

demo: setup data
	$(PY) tools/run_benchmark.py $(BENCH)/synthetic_gta2cs.py --runs $(DEMO_RUNS) \
		--jobs $(JOBS) --work-root work_dirs/demo \
		--title 'Demo: GTA-format -> Cityscapes-format, seed 0'

bench-accuracy: setup data
	$(PY) tools/run_benchmark.py $(BENCH)/synthetic_gta2cs.py --seeds $(SEEDS) \
		--jobs $(JOBS) --work-root work_dirs/synthetic \
		--title 'Synthetic GTA-format -> Cityscapes-format' \
		--out docs/results/synthetic_gta2cs.md \
		--plot docs/results/synthetic_gta2cs_miou.png
	$(PY) tools/run_benchmark.py $(BENCH)/synthetic_synthia2cs.py --seeds $(SEEDS) \
		--jobs $(JOBS) --work-root work_dirs/synthetic_synthia \
		--title 'Synthetic SYNTHIA-format -> Cityscapes-format (16 classes)' \
		--out docs/results/synthetic_synthia2cs.md \
		--plot docs/results/synthetic_synthia2cs_miou.png

bench-speed: setup
	OMP_NUM_THREADS=1 $(PY) tools/benchmark.py --out docs/results/speed_cpu.md

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS)

clean-demo:
	rm -rf work_dirs/demo
