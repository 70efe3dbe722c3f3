"""The figures of signal detection: disproportionality of a 2×2 table, and a period's excess.

A product × PT's 2×2 table counts cases (not reports), cumulatively:

                      with the PT   without it
    the product            a            b
    the other products     c            d

- PRR = (a/(a+b)) / (c/(c+d)), with the Yates-corrected χ² of the table (one degree of freedom,
  as the MHRA's practice after Evans, Waller & Davis 2001); raised when PRR ≥ 2, χ² ≥ 4, a ≥ 3.
- ROR = (a/c) / (b/d) = ad/bc, with its 95 % confidence interval exp(ln ROR ± z·√(1/a+1/b+1/c+1/d)),
  z the normal quantile at 0.975 (van Puijenbroek et al. 2002); raised when the lower bound > 1
  and a ≥ 3 (the minimum case count of the Evans criteria, applied to every test alike).
- IC = log2((a+0.5)/(E+0.5)), E = (a+b)(a+c)/N, the shrunk information component of WHO-UMC
  (Norén, Hopstadius & Bate 2013), with IC025 the 2.5 % quantile of the gamma posterior
  Γ(a+0.5, rate E+0.5), log2'd; raised when IC025 > 0 and a ≥ 3.
- Trend: the period's count k against μ, the mean count of the four periods before it; raised
  when k ≥ 3 and P(X ≥ k | Poisson(μ)) < 0.01. With no history (μ = 0) any k ≥ 3 is an excess
  (the Poisson tail is 0): a product × PT that had no case for a year and now has three is
  what a PV officer wants to see.

A figure that a zero cell leaves undefined is None, never inf or NaN. Every function takes
numpy arrays (one element per product × PT), so that a run over thousands of pairs is a few
vectorised calls; the distributions are scipy.stats'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN_CASES = 3  # a ≥ 3 for every test (Evans criteria), and k ≥ 3 for the trend
PRR_MIN, CHI2_MIN = 2.0, 4.0
TREND_P = 0.01
HISTORY_PERIODS = 4

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Disproportion:
    """The figures of each 2×2 table (NaN where undefined: see `value`)."""

    prr: Floats
    chi2: Floats
    ror: Floats
    ror_lower: Floats
    ror_upper: Floats
    ic: Floats
    ic025: Floats
    prr_raised: NDArray[np.bool_]
    ror_raised: NDArray[np.bool_]
    ic_raised: NDArray[np.bool_]


@dataclass(frozen=True)
class Trend:
    """The period's count against the previous periods' mean, and the Poisson tail."""

    baseline: Floats
    poisson_p: Floats
    raised: NDArray[np.bool_]


def _floats(values: ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64)


def disproportion(a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike) -> Disproportion:
    """Return PRR with χ², ROR with its 95 % CI, and IC with IC025, of each table (a, b, c, d)."""
    from scipy import stats  # here, not at the top: 0.4 s every web worker and command would pay

    z95 = stats.norm.ppf(0.975)  # 1.959964…
    a, b, c, d = _floats(a), _floats(b), _floats(c), _floats(d)
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        prr = (a / (a + b)) / (c / (c + d))
        # Pearson's χ² with Yates' correction, as scipy.stats.chi2_contingency(correction=True)
        # computes it for one 2×2 table (the correction never taking |O − E| below 0).
        margins = (a + b) * (c + d) * (a + c) * (b + d)
        chi2 = n * np.maximum(np.abs(a * d - b * c) - n / 2, 0) ** 2 / margins
        # The ROR and its interval need every cell: with one at zero all three are undefined.
        cells = (a > 0) & (b > 0) & (c > 0) & (d > 0)
        ror = np.where(cells, (a * d) / (b * c), np.nan)
        spread = z95 * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        ror_lower = np.exp(np.log(ror) - spread)
        ror_upper = np.exp(np.log(ror) + spread)
        expected = (a + b) * (a + c) / n
        ic = np.log2((a + 0.5) / (expected + 0.5))
        ic025 = np.log2(stats.gamma.ppf(0.025, a + 0.5, scale=1 / (expected + 0.5)))
    figures = [_defined(x) for x in (prr, chi2, ror, ror_lower, ror_upper, ic, ic025)]
    prr, chi2, ror, ror_lower, ror_upper, ic, ic025 = figures
    enough = a >= MIN_CASES
    with np.errstate(invalid="ignore"):  # NaN compares False: an undefined figure raises nothing
        return Disproportion(
            prr=prr,
            chi2=chi2,
            ror=ror,
            ror_lower=ror_lower,
            ror_upper=ror_upper,
            ic=ic,
            ic025=ic025,
            prr_raised=enough & (prr >= PRR_MIN) & (chi2 >= CHI2_MIN),
            ror_raised=enough & (ror_lower > 1),
            ic_raised=enough & (ic025 > 0),
        )


def trend(count: ArrayLike, history: ArrayLike) -> Trend:
    """Return the excess of each period's count over its previous periods' (summed) count."""
    from scipy import stats  # as in `disproportion`

    k, baseline = _floats(count), _floats(history) / HISTORY_PERIODS
    poisson_p = stats.poisson.sf(k - 1, baseline)  # P(X ≥ k); 0 when μ = 0 and k ≥ 1
    return Trend(baseline, poisson_p, (k >= MIN_CASES) & (poisson_p < TREND_P))


def _defined(values: Floats) -> Floats:
    """Return the values with every infinite one made NaN: undefined, as a zero cell leaves it."""
    return np.where(np.isfinite(values), values, np.nan)


def value(figure: float) -> float | None:
    """Return a figure as stored: None where it is undefined."""
    return None if np.isnan(figure) else float(figure)
