"""Write data/flowers.csv: 150 labelled rows of three made-up flower species (50 each, seed 0).

Columns: ``id`` (text, e.g. ``f007``), ``petal_length`` and ``petal_width`` in cm, ``stem_mass`` in mg (a
scale a hundred times the others, as real measurements come) and ``species`` (alba, lutea, rubra): each
species draws its three measurements from its own normal distribution; lutea and rubra overlap. Run from the
repository root: ``python data/make_flowers.py``. The committed file is its output.
"""

from pathlib import Path

import numpy as np

SEED, PER_SPECIES = 0, 50
SPECIES = {  # name: (means, standard deviations) of petal_length, petal_width, stem_mass
    "alba": ((1.5, 0.3, 410.0), (0.25, 0.1, 60.0)),
    "lutea": ((4.4, 1.4, 530.0), (0.5, 0.25, 80.0)),
    "rubra": ((5.1, 1.8, 590.0), (0.55, 0.3, 90.0)),
}


def main() -> None:
    rng = np.random.default_rng(SEED)
    rows = [
        (name, *rng.normal(mean, std))
        for name, (mean, std) in SPECIES.items()
        for _ in range(PER_SPECIES)
    ]
    order = rng.permutation(len(rows))
    lines = ["id,petal_length,petal_width,stem_mass,species"]
    for k, index in enumerate(order):
        name, length, width, mass = rows[index]
        lines.append(f"f{k:03d},{length:.2f},{max(width, 0.05):.2f},{mass:.1f},{name}")
    Path(__file__).with_name("flowers.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
