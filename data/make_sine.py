"""Write data/sine.csv: 200 rows of y = sin(x) + N(0, 0.05^2) noise, x evenly spaced on [-3, 3] (seed 0).

Run from the repository root: ``python data/make_sine.py``. The committed file is its output.
"""

from pathlib import Path

import numpy as np

ROWS, NOISE, SEED = 200, 0.05, 0


def main() -> None:
    x = np.linspace(-3.0, 3.0, ROWS)
    y = np.sin(x) + np.random.default_rng(SEED).normal(0.0, NOISE, ROWS)
    lines = ["x,y", *(f"{a:.6f},{b:.6f}" for a, b in zip(x, y, strict=True))]
    Path(__file__).with_name("sine.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
