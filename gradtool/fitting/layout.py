"""The flat parameter vector of a model: named arrays packed in order, each seen through a view."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Named parameter arrays packed into one flat vector, in order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @cached_property
    def bounds(self) -> list[tuple[int, int]]:
        ends = np.cumsum([math.prod(shape) for shape in self.shapes]).tolist()
        return list(zip([0, *ends[:-1]], ends, strict=True))

    @property
    def size(self) -> int:
        return self.bounds[-1][1] if self.names else 0

    def views(self, theta: np.ndarray) -> list:
        """Each parameter as a view into ``theta`` (a numpy scalar for a shape-``()`` parameter)."""
        return [
            theta[a] if not shape else theta[a:b].reshape(shape)
            for (a, b), shape in zip(self.bounds, self.shapes, strict=True)
        ]

    def flat_names(self) -> list[str]:
        """One name per entry of the flat vector: ``W1[0,1]``, ``b1[2]``, or a scalar's own name."""
        out = []
        for name, shape in zip(self.names, self.shapes, strict=True):
            out += [name] if not shape else [f"{name}[{','.join(map(str, i))}]" for i in np.ndindex(shape)]
        return out
