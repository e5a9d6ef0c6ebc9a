"""Gittins ranks of empirical job-size distributions.

A job whose size ``S`` (seconds of service) follows a known distribution and that has already
received ``a`` seconds of service has the Gittins rank::

    rank(a) = inf over D > 0 of  E[min(S - a, D) | S > a] / P(S - a <= D | S > a)

"serve for at most ``D`` more seconds" costs ``E[min(R, D)]`` in expectation and finishes the
job with probability ``P(R <= D)``. Lower ranks are served first. ``D = inf`` gives the mean
remaining work, so the rank never exceeds it.

On an empirical distribution (``samples``) let the survivors be ``r = s - a`` for every sample
``s > a`` (strictly greater), sorted ``r1 <= ... <= rm``. Between two consecutive survivors the
numerator grows with ``D`` while the denominator stays flat, so the infimum is attained at some
``D = rj``, and there ``E[min(R, rj)] = (r1 + ... + rj + (m - j) * rj) / m`` while
``P(R <= rj) >= j / m``. Hence, exactly::

    rank(a) = min over j = 1..m of (r1 + ... + rj + (m - j) * rj) / j

(``j = m`` is the survivors' mean, i.e. ``D = inf``). With ties ``ri = rj`` the term at the
first index of the tie over-counts the numerator and under-counts the probability, so it is
only an upper bound; the term at the last index of the tie is the exact ratio, and the minimum
picks it.

The smallest quantum. Taken over *every* ``D``, the infimum on samples is dominated by the
few smallest survivors, the noisiest part of the data: as ``a`` approaches a sample from below
the rank drops towards 0, and 1000 random exponential samples with mean 3 (true rank 3 at every
age) give a literal rank of 1.5 on average, anywhere from 0 to 3 across seeds. So ``D`` must
finish at least ``min_share`` of the survivors (``j >= ceil(min_share * m)``; default 0.1, which
gives 2.8 on average and never below 2.2 on the same data). The rank is still the exact
infimum over those quanta; ``min_share=0`` restores the literal one.

No survivors (the job has outlived every observed sample): the empirical distribution says
nothing about it, and we return ``attained`` itself. For heavy-tailed work the expected
remaining time of a job grows in proportion to its age (the Lindy effect), so a runaway neither
jumps to the front (rank 0 would starve everyone else) nor disappears (rank inf): it ranks
behind every fresh job of its distribution (fresh rank <= mean <= max sample <= attained) and
keeps sinking as it runs.

Worked example, samples ``[1, 1, 10]``:

>>> gittins_rank([1, 1, 10])  # j=2: (1 + 1 + 1 * 1) / 2; D=1 finishes 2/3 of jobs at cost 1
1.5
>>> gittins_rank([1, 1, 10], attained=1.0)  # only the 10 survives: 9 seconds to go
9.0
>>> gittins_rank([1, 1, 10], attained=12.0)  # outlived everything: Lindy fallback
12.0

``gittins_rank`` answers one-off queries in ``O(n log n)``; ``GittinsTable`` precomputes one
distribution (``O(n^2)`` time in bounded blocks, ``O(n)`` memory) and then answers a query in a
few microseconds.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from hermes_agents.errors import ValidationError

__all__ = ["DEFAULT_MIN_SHARE", "GittinsTable", "gittins_rank"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DEFAULT_MIN_SHARE: Final = 0.1
"""Smallest share of the surviving samples a service quantum must finish (see module docs)."""

_BLOCK_CELLS: Final = 1 << 18  # cells per temporary (queries x samples) matrix: 2 MiB
_SAMPLES: Final = "argument 'samples'"
_ATTAINED: Final = "argument 'attained'"
_ATTAINED_HINT: Final = "pass the service already received in seconds"


def _as_samples(samples: npt.ArrayLike) -> FloatArray:
    """Validate ``samples`` and return them as a sorted float64 copy."""
    try:
        values = np.array(samples, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"must be a 1-D sequence of job sizes in seconds, got {type(samples).__name__}"
            f" ({exc}); pass a list or numpy array of numbers",
            _SAMPLES,
        ) from exc
    if values.ndim != 1:
        raise ValidationError(
            f"must be 1-D, got shape {values.shape}; pass one flat sequence of job sizes"
            " per distribution",
            _SAMPLES,
        )
    if values.size == 0:
        raise ValidationError("is empty; pass at least one observed job size in seconds", _SAMPLES)
    for bad, what, fix in (
        (~np.isfinite(values), "NaN or infinite", "drop failed or unfinished measurements"),
        (values < 0.0, "negative", "job sizes are seconds of service and must be >= 0"),
    ):
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                f"contains {int(bad.sum())} {what} value(s), first at index {first}"
                f" ({float(values[first])!r}); {fix}",
                _SAMPLES,
            )
    values.sort()
    return values


def _attained_problem(value: float) -> str:
    """Explain why a (float) attained value is invalid."""
    if math.isnan(value):
        return f"is NaN; {_ATTAINED_HINT} as a finite number >= 0"
    if math.isinf(value):
        return f"must be finite, got {value!r}; {_ATTAINED_HINT}"
    return f"must be >= 0, got {value!r}; {_ATTAINED_HINT}"


def _check_attained(attained: float) -> float:
    """Return ``attained`` as a float, or raise ``ValidationError`` if it is not finite >= 0."""
    try:
        value = float(attained)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"must be a number, got {type(attained).__name__}; {_ATTAINED_HINT}", _ATTAINED
        ) from exc
    if 0.0 <= value < math.inf:
        return value
    raise ValidationError(_attained_problem(value), _ATTAINED)


def _as_attained_array(attained: npt.ArrayLike) -> FloatArray:
    """Validate many attained values at once; any shape is accepted."""
    try:
        values = np.asarray(attained, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"must be numbers ({exc}); {_ATTAINED_HINT}", _ATTAINED) from exc
    flat = values.ravel()
    bad = ~((flat >= 0.0) & (flat < math.inf))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{bad.sum()} invalid value(s), first at flat index {index}: "
            + _attained_problem(float(flat[index])),
            _ATTAINED,
        )
    return values


def gittins_rank(
    samples: npt.ArrayLike, attained: float = 0.0, *, min_share: float = DEFAULT_MIN_SHARE
) -> float:
    """Exact Gittins rank of a job with empirical size distribution ``samples``.

    ``attained`` is the service (seconds) the job already received. Returns
    ``min over j >= j0 of (r1 + ... + rj + (m - j) * rj) / j`` over the sorted survivors
    ``r = s - attained`` of the samples ``s > attained``, where ``j0 = ceil(min_share * m)``
    (at least 1): the quantum ``D`` must finish at least ``min_share`` of the survivors (see the
    module docstring; ``min_share=0`` is the literal infimum). Lower ranks are served first. If
    no sample exceeds ``attained`` the job outlived everything observed and ``attained`` itself
    is returned (Lindy fallback). Raises ``ValidationError`` for empty, non-1-D, non-finite or
    negative samples, a negative or non-finite ``attained``, or ``min_share`` outside [0, 1).

    >>> gittins_rank([2.0, 4.0], attained=1.0)  # D=1: costs 1 second, finishes half the jobs
    2.0
    """
    values = _as_samples(samples)
    a = _check_attained(attained)
    share = _check_share(min_share)
    survivors = values[int(np.searchsorted(values, a, side="right")) :] - a
    m = survivors.size
    if m == 0:
        return a
    j = np.arange(1, m + 1, dtype=np.float64)
    terms = (np.cumsum(survivors) + (m - j) * survivors) / j
    # Rounding can lift the mean a hair above the largest survivor; a rank never exceeds it.
    return float(min(np.min(terms[_first_quantum(m, share) - 1 :]), survivors[-1]))


def _first_quantum(survivors: int, share: float) -> int:
    """The smallest number of survivors a quantum must finish: ``ceil(share * m)``, >= 1."""
    return max(1, math.ceil(share * survivors - 1e-9))


def _check_share(min_share: float) -> float:
    if not 0.0 <= min_share < 1.0:
        raise ValidationError(
            f"must be in [0, 1), got {min_share!r}; 0.1 means a quantum must finish at least "
            "10% of the surviving samples",
            "argument 'min_share'",
        )
    return float(min_share)


def _best_between(
    k: IntArray, x: FloatArray, c: FloatArray, after: IntArray, before: IntArray
) -> tuple[IntArray, FloatArray]:
    """Per row i: the line ``g`` in ``(after[i], before[i])`` lowest at ``x[i]``, and its value.

    Line ``g`` of survivor count ``k`` is ``(c[g] - x) / (g - k + 1)``. Rows are evaluated in
    blocks of at most about ``_BLOCK_CELLS`` cells; an empty range gives ``(-1, inf)``.
    """
    n = c.size
    width = before - after - 1
    order = np.argsort(width, kind="stable")
    c_rows = sliding_window_view(np.concatenate((c, np.full(n, np.inf))), n)
    d_rows = sliding_window_view(np.arange(1.0, 2 * n + 1), n)
    best = np.full(k.size, -1, dtype=np.intp)
    value = np.full(k.size, np.inf)
    start = int(np.searchsorted(width[order], 1))  # skip empty ranges
    while start < k.size:
        stop = min(k.size, start + max(1, _BLOCK_CELLS // int(width[order[start]])))
        stop = min(stop, start + max(1, _BLOCK_CELLS // int(width[order[stop - 1]])))
        rows = order[start:stop]
        span = int(width[rows[-1]])
        first = after[rows] + 1
        values = (c_rows[first, :span] - x[rows, np.newaxis]) / d_rows[first - k[rows], :span]
        values[np.arange(span) >= width[rows, np.newaxis]] = np.inf
        column = np.argmin(values, axis=1)
        best[rows] = first + column
        value[rows] = values[np.arange(rows.size), column]
        start = stop
    return best, value


def _envelopes(
    s: FloatArray, prefix: FloatArray, c: FloatArray, share: float
) -> tuple[IntArray, IntArray]:
    """``(k, g)`` pairs: for each ``k``, the lines whose minimum is the exact rank on its interval.

    Survivor count ``k`` covers ``a`` in ``[s[k-1], s[k]]`` (``[0, s[0]]`` for ``k = 0``), where
    the rank is the concave lower envelope of lines in ``x = P[k] + (n - k) * a``. Steeper lines
    win as ``x`` grows: the leftmost is the minimiser at the low end, the rightmost is the last
    sample tied with ``s[k]`` (its remaining work reaches 0 at the high end). Lines in between
    are found by probing where two adjacent known lines cross: if no line with a slope between
    theirs is lower there, none is lower anywhere on the interval.

    With ``share > 0`` only lines ``g >= k + ceil(share * (n - k)) - 1`` take part (the quantum
    must finish that share of the survivors); when the tied sample is excluded, the high-end
    minimiser is searched among the allowed lines instead.
    """
    n = s.size
    k = np.arange(n)
    quantum = np.maximum(1, np.ceil(share * (n - k) - 1e-9)).astype(np.intp)
    before_lowest, end = k + quantum - 2, np.full(n, n)
    x_lo = prefix[:-1] + (n - k) * np.concatenate(([0.0], s[:-1]))
    x_hi = prefix[:-1] + (n - k) * s
    tied = np.searchsorted(s, s, side="right") - 1
    right = tied
    excluded = tied <= before_lowest
    if excluded.any():
        right = tied.copy()
        right[excluded] = _best_between(
            k[excluded], x_hi[excluded], c, before_lowest[excluded], end[excluded]
        )[0]
    left = np.maximum(_best_between(k, x_lo, c, before_lowest, end)[0], right)
    owners, lines = [k, k[left != right]], [right, left[left != right]]
    pk, pp, pq = owners[1], lines[1], right[left != right]
    while pk.size:
        jp, jq = pp - pk + 1, pq - pk + 1
        cross = np.clip((jp * c[pq] - jq * c[pp]) / (jp - jq), x_lo[pk], x_hi[pk])
        found, value = _best_between(pk, cross, c, pq, pp)
        new = value < np.minimum((c[pp] - cross) / jp, (c[pq] - cross) / jq)
        owners.append(pk[new])
        lines.append(found[new])
        pk = np.concatenate((pk[new], pk[new]))
        pp, pq = np.concatenate((pp[new], found[new])), np.concatenate((found[new], pq[new]))
    return np.concatenate(owners), np.concatenate(lines)


class GittinsTable:
    """Precomputed Gittins ranks of one empirical distribution, for fast repeated queries.

    ``GittinsTable(samples).rank(a)`` equals ``gittins_rank(samples, a)`` up to the rounding of
    prefix sums (absolute error about ``n * eps * max_sample``), with the same Lindy fallback and
    validation. Building costs ``O(n^2)`` time in bounded blocks (about 10 ms for ``n = 1000``)
    and ``O(n)`` memory; a query is a bisection plus a minimum over the few (typically 1 to 3)
    lines of the exact lower envelope stored for the query's survivor count.

    >>> table = GittinsTable([1, 1, 10])
    >>> table.rank(0.0), table.rank(1.0), table.rank(12.0)
    (1.5, 9.0, 12.0)
    """

    def __init__(self, samples: npt.ArrayLike, *, min_share: float = DEFAULT_MIN_SHARE) -> None:
        """Validate ``samples`` (job sizes in seconds) and precompute the table."""
        s = _as_samples(samples)
        self.min_share = _check_share(min_share)
        n = s.size
        prefix = np.concatenate(([0.0], np.cumsum(s)))
        c = prefix[1:] + (n - 1 - np.arange(n)) * s  # C[g] = P[g+1] + (n-g-1) s[g]
        owners, lines = _envelopes(s, prefix, c, self.min_share)
        order = np.lexsort((lines, owners))
        owners, lines = owners[order], lines[order]
        self._s, self._prefix = s, prefix
        self._env_c = c[lines]
        self._env_j = (lines - owners + 1).astype(np.float64)
        self._offsets = np.searchsorted(owners, np.arange(n + 2))
        self._mean = float(np.mean(s))
        self._s_list: list[float] = s.tolist()
        self._p_list: list[float] = prefix.tolist()
        pairs = list(zip(self._env_c.tolist(), self._env_j.tolist(), strict=True))
        bounds: list[int] = self._offsets.tolist()
        self._env = [tuple(pairs[bounds[i] : bounds[i + 1]]) for i in range(n)]

    @property
    def size(self) -> int:
        """Number of samples ``n``."""
        return len(self._s_list)

    @property
    def mean(self) -> float:
        """Mean job size (seconds); the Gittins rank of a fresh job never exceeds it."""
        return self._mean

    @property
    def max_sample(self) -> float:
        """Largest sample; beyond it ``rank`` falls back to ``attained``."""
        return self._s_list[-1]

    def rank(self, attained: float) -> float:
        """Gittins rank after ``attained`` seconds of service; same contract as gittins_rank."""
        a = _check_attained(attained)
        s = self._s_list
        k = bisect_right(s, a)
        if k == len(s):
            return a
        x = self._p_list[k] + (len(s) - k) * a
        best = math.inf
        for c, j in self._env[k]:
            value = (c - x) / j
            if value < best:
                best = value
        # Rounding can lift a value a hair above the largest survivor; a rank never exceeds it.
        return min(max(best, 0.0), s[-1] - a)

    def ranks(self, attained: npt.ArrayLike) -> FloatArray:
        """Ranks for many attained values at once (same values as ``rank``), in their shape."""
        values = _as_attained_array(attained)
        flat = values.ravel()
        out = np.empty(flat.size, dtype=np.float64)
        step = _BLOCK_CELLS // 8  # a few lines per query: bounded temporaries
        for start in range(0, flat.size, step):
            out[start : start + step] = self._block(flat[start : start + step])
        return out.reshape(values.shape)

    def _block(self, a: FloatArray) -> FloatArray:
        """Vectorised ``rank`` for a 1-D block of validated attained values."""
        n = self._s.size
        k = np.searchsorted(self._s, a, side="right")
        first, counts = self._offsets[k], self._offsets[k + 1] - self._offsets[k]
        starts = np.cumsum(counts) - counts
        item = np.arange(int(counts.sum())) - np.repeat(starts - first, counts)
        x = np.repeat(self._prefix[k] + (n - k) * a, counts)
        lines = (self._env_c[item] - x) / self._env_j[item]
        best = np.full(a.size, np.inf)
        some = counts > 0
        if some.any():
            best[some] = np.minimum.reduceat(lines, starts[some])
        clamped = np.minimum(np.maximum(best, 0.0), self._s[-1] - a)
        return np.where(k == n, a, clamped)
