# gradtool: every target creates and uses the local virtual environment .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench pictures torch docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gradtool grad "x^2*y + sin(x)" --at x=1,y=2 --hessian
	$(BIN)/gradtool check-grad "x^2*y" --at x=2,y=1 --grad "2*x*y, x^3" || true
	$(BIN)/gradtool check-grad "sin(x)" --at x=1 --sweep-h
	$(BIN)/gradtool minimize "theta^2 - 4*theta + 4" --x0 theta=0 --lr 0.1 --xtol 1e-6
	$(BIN)/gradtool minimize rosenbrock --x0=-1.5,2 --optimizer nag --lr 1e-3 --momentum 0.9 --steps 20000
	$(BIN)/gradtool minimize himmelblau --starts 200 --box=-5,5 --seed 0 --optimizer adam --lr 0.05 --quiet
	$(BIN)/gradtool run configs/rosenbrock-compare.yaml --quiet
	$(BIN)/gradtool fit mlp:2-4-1 --activation sigmoid --loss bce --data data/xor.csv --target y \
		--optimizer adam --lr 0.1 --epochs 2000 --seed 0

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check gradtool tests benchmarks
	$(BIN)/ruff format --check gradtool tests benchmarks

# optional: the CPU build of PyTorch for the cross-check tests (never a runtime dependency)
torch: $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/run_all.py --write docs/performance.md

# the registry tables of docs/optimizers.md and docs/configs.md, regenerated (a test fails when they are stale)
docs: $(STAMP)
	$(BIN)/python -m gradtool.optim.docs

# the pictures README shows (docs/plots.md): deterministic, so re-running gives the same bytes
pictures: $(STAMP)
	$(BIN)/gradtool plot "0.1*x^2 + 0.01*x" --range 0,20 --tangent-at 5,10 --derivative --out docs/tangents.png
	$(BIN)/gradtool plot rosenbrock --optimizers gd,momentum,nag,rmsprop,adam --x0=-1.5,2 --steps 3000 \
		--out docs/rosenbrock-paths.png
	$(BIN)/gradtool check-grad "sin(x)" --at x=1 --sweep-h --plot docs/h-error.png > /dev/null
	$(BIN)/gradtool graph "0.5*(t - sigmoid(w*x + b))^2" --at w=0.5,x=2,b=-1,t=1 --out docs/chain-rule.png > /dev/null
	$(BIN)/gradtool fit mlp:1-8-8-8-8-8-1 --activation sigmoid --data data/sine.csv --target y -o adam --lr 0.01 \
		--epochs 300 --seed 1 --grad-stats --plot docs/vanishing-gradients.png -q > /dev/null

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
