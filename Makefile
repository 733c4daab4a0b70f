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

.PHONY: setup demo test training-data distill-data
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
	$(VENV)/bin/squatpose data refine --annotations ../shared/data/lspet/lspet_train.json --joint-set lower8 \
	  --images ../shared/data/lspet/images --teacher $(TEACHER) --out derived/lspet_refined.json
	$(VENV)/bin/squatpose data pseudo-label ../shared/data/squat_videos_more ../shared/samples/pose_squats.mp4 \
	  --teacher $(TEACHER) --out derived/squat_pseudo3 --every 0.2
	$(VENV)/bin/squatpose data pseudo-label ../shared/data/train_videos \
	  --teacher $(TEACHER) --out derived/train_videos_pseudo --every 0.25

# Teacher keypoints for distillation (recipe efflite0_v2_distill), beside the training files above.
distill-data: $(STAMP)
	$(VENV)/bin/squatpose data teacher-keypoints --annotations derived/lsp/lsp_train_rest.json \
	  --images ../shared/data/lsp/images --teacher $(TEACHER) --out derived/lsp/lsp_train_rest_teacher.json
	$(VENV)/bin/squatpose data teacher-keypoints --annotations derived/lspet_refined.json \
	  --images ../shared/data/lspet/images --teacher $(TEACHER) --out derived/lspet_refined_teacher.json
	$(VENV)/bin/squatpose data teacher-keypoints \
	  --annotations ../shared/data/coco_mini/annotations/person_keypoints_train2017.json \
	  --images ../shared/data/coco_mini/train2017 --teacher $(TEACHER) --out derived/coco_mini_train_teacher.json
	$(VENV)/bin/squatpose data teacher-keypoints --annotations derived/squat_pseudo/pseudo_labels.json \
	  --images derived/squat_pseudo/images --teacher $(TEACHER) --out derived/squat_pseudo_teacher.json
