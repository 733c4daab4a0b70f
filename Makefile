# Two entry points: `make demo` (set up, then analyse the sample squat clip with the built-in model)
# and `make test` (set up, then run the test suite). Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU build of PyTorch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[onnx,web,train,dev]"
	touch $(STAMP)

.PHONY: setup demo test training-data
setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/squatpose demo --out out/demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(PY) -m pytest

# The built-in model's derived training data (docs/training.md): dev split, refined labels, squat frames.
TEACHER ?= ../shared/teachers/movenet-thunder.onnx
training-data: $(STAMP)
	$(VENV)/bin/squatpose data split --annotations ../shared/data/lsp/lsp_train.json --out-dir derived/lsp --dev 300 --seed 0
	$(VENV)/bin/squatpose data refine --annotations ../shared/data/lspet/lspet_train.json \
	  --images ../shared/data/lspet/images --teacher $(TEACHER) --out derived/lspet_refined.json
	$(VENV)/bin/squatpose data pseudo-label ../shared/data/squat_videos_more ../shared/samples/pose_squats.mp4 \
	  --teacher $(TEACHER) --out derived/squat_pseudo
