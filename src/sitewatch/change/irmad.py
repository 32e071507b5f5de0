"""IR-MAD (Nielsen, IEEE TIP 16(2), 2007): each pixel's probability of no change between two dates, by
iteratively reweighted canonical correlation analysis, and the chi-square survival function it weights
pixels by, in closed form.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..blas import one_blas_thread

__all__ = ["irmad_weights"]


def _chi2_sf(dof: int, z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Chi-square survival function of ``dof`` (a positive integer) degrees of freedom, in closed form:
    e^(-z/2) Σ (z/2)^k / k! for even ``dof``, with erfc(√(z/2)) and half-integer powers for odd (the
    same values as ``scipy.special.chdtrc`` to rounding, several times faster)."""
    from scipy import special

    h = 0.5 * z
    e = np.exp(-h)
    if dof % 2 == 0:
        total, term = np.ones_like(h), np.ones_like(h)
        for k in range(1, dof // 2):
            term = term * h / k
            total += term
        return np.asarray(e * total)
    out = special.erfc(np.sqrt(h))
    if dof > 1:
        term = np.sqrt(h) / math.gamma(1.5)
        total = term.copy()
        for k in range(2, (dof + 1) // 2):
            term = term * h / (k - 0.5)
            total += term
        out = out + e * total
    return np.asarray(out)


def irmad_weights(x: NDArray[np.floating], y: NDArray[np.floating], *, iterations: int = 50, tol: float = 1e-4) -> NDArray[np.float64]:
    """No-change probabilities of IR-MAD (Nielsen 2007) for pixels ``x`` and ``y`` (pixels × bands).

    Each iteration makes the weighted canonical correlation analysis of the two dates, the MAD
    variates (differences of the canonical variates) standardised by their variance 2(1 - ρ), and
    weights every pixel by the chi-square survival function of their squared sum; it stops when no
    canonical correlation moves by more than ``tol``.
    """
    import scipy.linalg  # noqa: F401  (loaded before the limit below, so that its own BLAS is held to it too)

    # One BLAS thread: the products are pixels × 2p, too thin to share out, and OpenBLAS's threads
    # spun between the fifty iterations' calls, three times the CPU for a slower run.
    with one_blas_thread():
        return _irmad(x, y, iterations, tol)


def _irmad(x: NDArray[np.floating], y: NDArray[np.floating], iterations: int, tol: float) -> NDArray[np.float64]:
    """:func:`irmad_weights`' iterations."""
    from scipy import linalg

    # Both dates side by side: one centring, one weighted product for the three covariances and one
    # for the MAD variates per iteration (the pixel-sized work), the rest is on p × p matrices.
    Z = np.ascontiguousarray(np.hstack([np.asarray(x, np.float64), np.asarray(y, np.float64)]))
    n, p = np.shape(x)
    w = np.ones(n)
    last = np.full(p, -1.0)
    ridge = 1e-12 * np.eye(p)
    for _ in range(iterations):
        sw = w.sum()
        Zc = Z - (w @ Z) / sw
        s = (Zc * w[:, None]).T @ Zc / sw
        sxx, syy, sxy = s[:p, :p], s[p:, p:], s[:p, p:]
        try:
            r2, a = linalg.eigh(sxy @ np.linalg.solve(syy + ridge, sxy.T), sxx + ridge)
            b = np.linalg.solve(syy + ridge, sxy.T @ a)
        except (linalg.LinAlgError, ValueError):
            break  # a band constant over the weighted pixels: keep the last weights
        b /= np.sqrt(np.maximum(np.einsum("ij,ij->j", b, syy @ b), 1e-300))
        b *= np.sign(np.einsum("ij,ij->j", a, sxy @ b))
        rho = np.sqrt(np.clip(r2, 0.0, 1.0))
        mad = Zc @ np.vstack([a, -b])
        z = (mad * mad) @ (1.0 / np.maximum(2.0 * (1.0 - rho), 1e-12))
        new = _chi2_sf(p, z)
        if not np.isfinite(new).all() or new.sum() < 1e-9 * n:
            break  # every pixel improbable (the variances collapsed): keep the last usable weights
        w = new
        if float(np.max(np.abs(rho - last))) < tol:
            break
        last = rho
    return w
