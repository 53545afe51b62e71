"""Tables for lessons: a DataFrame shown as a clean HTML table with a stable text form.

``DataFrame.style`` tables carry a random id and their plain-text form is a memory
address, so they differ on every run and say nothing outside a browser. :func:`table`
gives the same HTML with an id derived from the content, and the table's text as its
plain-text form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd


class Table:
    """A DataFrame displayed without its index: HTML in notebooks, aligned text elsewhere."""

    def __init__(
        self,
        frame: pd.DataFrame,
        formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    ) -> None:
        self.frame = frame
        self.formats = dict(formats or {})

    def _formatted(self) -> pd.DataFrame:
        out = self.frame.copy()
        for column, fmt in self.formats.items():
            if column not in out.columns:
                raise ValueError(f"formats names column {column!r}, which the table does not have")
            render = fmt if callable(fmt) else fmt.format
            out[column] = [render(value) for value in out[column]]
        return out

    def __repr__(self) -> str:
        return self._formatted().to_string(index=False)

    def _repr_html_(self) -> str:
        text = self.frame.to_csv(index=False).encode("utf-8")
        uuid = hashlib.sha1(text).hexdigest()[:8]
        styler = self.frame.style.hide(axis="index").set_uuid(uuid)
        if self.formats:
            styler = styler.format(self.formats)
        return styler.to_html()


def table(
    frame: pd.DataFrame, formats: Mapping[str, str | Callable[[Any], str]] | None = None
) -> Table:
    """Show a DataFrame as a lesson table.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show.
    formats : mapping, optional
        Column name to a format string such as ``"{:.1%}"`` or a function of one value.

    Examples
    --------
    >>> t = table(pd.DataFrame({"load": [0.5, 0.9], "servers": [2, 4]}), {"load": "{:.0%}"})
    >>> print(repr(t))
    load  servers
     50%        2
     90%        4
    >>> t._repr_html_() == t._repr_html_()
    True
    """
    return Table(frame, formats)
