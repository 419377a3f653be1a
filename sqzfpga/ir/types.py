"""The fixed-point type every stage speaks: a power-of-two scaled integer of a given width."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QType:
    """A power-of-two fixed-point type: value = integer * 2**-frac, `bits` wide."""
    bits: int
    frac: int
    signed: bool

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def triple(self) -> list[int]:
        return [self.bits, self.frac, int(self.signed)]

    @staticmethod
    def of(t) -> "QType":
        return QType(int(t[0]), int(t[1]), bool(t[2]))

    def __str__(self):
        return f"{'int' if self.signed else 'uint'}{self.bits}*2^{-self.frac}"
