# Quick start:
#   make demo   set up .venv, generate the synthetic benchmark, train and
#               evaluate the main methods on it, print the target mIoU table
#   make test   set up .venv and run the test suite
PY := .venv/bin/python
DATA := data/synthetic
DEMO_CONFIGS ?= configs/synthetic/source_only.py configs/synthetic/oracle.py

.PHONY: setup data demo test clean-demo

setup:
	@bash tools/setup_env.sh

$(DATA)/.complete: | setup
	$(PY) tools/make_synthetic.py --out $(DATA)
	@touch $@

data: setup $(DATA)/.complete

demo: setup data
	$(PY) tools/run_benchmark.py $(DEMO_CONFIGS) --work-root work_dirs/demo

test: setup
	$(PY) -m pytest tests -q -p no:cacheprovider

clean-demo:
	rm -rf work_dirs/demo
