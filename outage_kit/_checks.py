"""Argument checks shared by the models: one wording for every "must be a number" error.

Nothing here is public; the models import it under their own short names.
"""

from __future__ import annotations

import math

import numpy as np


def finite_number(name: str, value, *, low: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float (``> low`` if ``strict``, else ``>= low``), or a clear error.

    Booleans and strings are not numbers here, even though ``float()`` would take them.

    Raises
    ------
    TypeError
        If ``value`` is not an int or a float (numpy's included).
    ValueError
        If it is NaN, infinite or below the bound; the message names ``name``.

    Examples
    --------
    >>> finite_number("timeout_s", 20)
    20.0
    >>> finite_number("timeout_s", 0.0, low=0.0, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: timeout_s must be a finite number > 0, got 0.0
    >>> finite_number("timeout_s", "20")
    Traceback (most recent call last):
    ...
    TypeError: timeout_s must be a number, got '20'
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None and not bad:
        bad = value <= low if strict else value < low
    if bad:
        bound = "" if low is None else (f" > {low:g}" if strict else f" >= {low:g}")
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value
