"""Load and validate the sourced data files in ``data/``.

Every file in ``data/`` is a small CSV with a header row. Every row carries a ``status``:

``verified``
    stated by a public source; the ``source`` column holds its address(es).
``derived``
    arithmetic on verified (or other derived) rows; ``derivation`` writes the arithmetic out and,
    in tables with a ``value`` column, ``formula`` states it over row ids so that the loader can
    check it.
``assumed``
    a teaching assumption, not a fact; ``reason`` says why the value was chosen.

Each loader validates its file and raises :class:`DataError` (a ``ValueError``) naming the file,
the line (the header is line 1) and the field, and saying what a right value looks like.

Examples
--------
>>> from outage_kit import data
>>> data.parameter("outage_start_utc")
Timestamp('2015-09-21 08:23:00+0000', tz='UTC')
>>> data.parameter("outage_duration_h")
15.5
>>> data.parameter_record("concurrent_users_at_onset")["status"]
'assumed'
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DATA_DIR",
    "STATUSES",
    "TIME_PRECISIONS",
    "Column",
    "DataError",
    "Schema",
    "TIMELINE_SCHEMA",
    "SERVICES_SCHEMA",
    "INCIDENT_2010_SCHEMA",
    "SCENARIO_SCHEMA",
    "ID_RE",
    "load_table",
    "read_rows",
    "load_timeline_2015",
    "load_services_2015",
    "load_incident_2010",
    "load_scenario_2015",
    "parameter",
    "parameter_range",
    "parameter_record",
    "scenario_parameters",
]

#: Folder holding the data files: ``data/`` at the repository root, beside the package.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

#: The status vocabulary shared by every file.
STATUSES = ("verified", "derived", "assumed")

#: How precise a time is. ``exact`` and ``approximate`` are clock times; the others mean that the
#: time column holds a placeholder inside the window given by ``window_start_utc`` and
#: ``window_end_utc`` (timeline) or inside the named day (other files).
TIME_PRECISIONS = ("exact", "approximate", "morning", "day", "days", "month")

#: Values of ``unit`` that make ``value`` a time or a text instead of a number.
TIME_UNIT = "utc"
TEXT_UNIT = "text"

#: Relative tolerance when checking a derived value against its formula: room for rounding the
#: stated value to three significant figures.
DERIVED_REL_TOL = 0.005

_TIME_EXAMPLE = "2015-09-21T08:23Z"
_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z$")
#: What an id (or a parameter name) looks like: snake_case, starting with a letter.
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_URL_RE = re.compile(r"^https?://[^\s;]+\.[^\s;]+$")
_TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_SEP_HELP = "separated by ' ; '"


class DataError(ValueError):
    """A data file is malformed; the message names the file, the line and the field.

    Parameters
    ----------
    filename : str
        Name of the file (not the full path).
    line : int
        Line in the file, counting the header as line 1.
    field : str or None
        Column at fault, or None when the whole row is at fault.
    problem : str
        What is wrong and what would be right.

    Examples
    --------
    >>> err = DataError("timeline_2015.csv", 5, "time_utc", "'25:00' is not a time")
    >>> str(err)
    "timeline_2015.csv, line 5, field 'time_utc': '25:00' is not a time"
    >>> isinstance(err, ValueError), err.line
    (True, 5)
    """

    def __init__(self, filename: str, line: int, field: str | None, problem: str) -> None:
        self.filename = filename
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{filename}, line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class UnknownParameterError(KeyError):
    """A scenario parameter name that is not on the card (a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0])


@dataclass(frozen=True)
class Column:
    """One column of a data file.

    Parameters
    ----------
    name : str
        Header name.
    kind : str
        How cells are read: ``text``, ``id`` (snake_case, unique), ``time`` (ISO 8601 UTC),
        ``number``, ``status``, ``choice``, ``sources`` (http(s) URLs separated by `` ; ``),
        ``tags`` (source tags such as ``S3`` separated by `` ; ``), ``id_list`` (snake_case
        ids separated by ``;``), ``value`` (typed by the row's ``unit``) or ``formula``.
    required : bool
        Whether every row must fill the cell.
    choices : tuple of str
        Allowed values for ``kind="choice"``.

    Examples
    --------
    >>> Column("affected", "choice", required=True, choices=("yes", "no")).kind
    'choice'
    """

    name: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schema:
    """The columns of one data file and the extra checks it needs.

    Parameters
    ----------
    filename : str
        Default file name inside :data:`DATA_DIR`.
    columns : tuple of Column
        Every allowed column, in the order the loaded table returns them. All must be present
        in the header.
    row_checks : tuple of callables
        Extra checks, each called with a row (after the generic checks); they raise
        :class:`DataError` through ``row.fail(field, problem)``.

    Examples
    --------
    >>> SERVICES_SCHEMA.filename
    'services_2015.csv'
    >>> SERVICES_SCHEMA.id_column
    'id'
    """

    filename: str
    columns: tuple[Column, ...]
    row_checks: tuple[Callable[[_Row], None], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)

    @property
    def id_column(self) -> str | None:
        """Name of the column holding the unique row id, if any."""
        return next((c.name for c in self.columns if c.kind == "id"), None)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


class _Row:
    """One data row while it is being read: raw cells, parsed cells, and where it is."""

    def __init__(self, filename: str, line: int, raw: dict[str, str]) -> None:
        self.filename = filename
        self.line = line
        self.raw = raw
        self.parsed: dict[str, Any] = {}

    def fail(self, field: str | None, problem: str) -> NoReturn:
        raise DataError(self.filename, self.line, field, problem)

    def __getitem__(self, name: str) -> Any:
        return self.parsed[name]


# --------------------------------------------------------------------------- cell parsers


def _parse_time(text: str) -> pd.Timestamp:
    """Parse ``YYYY-MM-DDTHH:MM[:SS]Z`` into a tz-aware UTC Timestamp, or raise ValueError."""
    import pandas as pd

    match = _TIME_RE.match(text)
    if match is None:
        raise ValueError(text)
    parts = [int(p) if p is not None else 0 for p in match.groups()]
    moment = dt.datetime(*parts, tzinfo=dt.timezone.utc)  # raises on hour 25, 31 Feb...
    return pd.Timestamp(moment)


def _bad_time(row: _Row, name: str, text: str) -> NoReturn:
    row.fail(name, f"{text!r} is not an ISO 8601 UTC time such as {_TIME_EXAMPLE}")


def _split(text: str, sep: str) -> list[str]:
    return [part.strip() for part in text.split(sep)]


def _parse_cell(row: _Row, column: Column, text: str) -> Any:
    """Parse one cell according to its column kind (``value`` is handled separately)."""
    name, kind = column.name, column.kind
    if kind == "time":
        if not text:
            return None
        try:
            return _parse_time(text)
        except ValueError:
            _bad_time(row, name, text)
    if kind == "number":
        if not text:
            return math.nan
        return _parse_number(row, name, text)
    if kind == "id":
        if not ID_RE.match(text):
            row.fail(name, f"{text!r} is not a snake_case id such as 'sign_in'")
        return text
    if kind == "status":
        if text not in STATUSES:
            row.fail(name, f"unknown status {text!r}; use one of {', '.join(STATUSES)}")
        return text
    if kind == "choice":
        if text and text not in column.choices:
            row.fail(name, f"{text!r} is not allowed; use one of {', '.join(column.choices)}")
        return text
    if kind == "sources":
        if text:
            for part in _split(text, ";"):
                if not _URL_RE.match(part):
                    row.fail(
                        name,
                        f"{part!r} is not an http(s) URL; give full addresses such as "
                        f"https://example.org/page, several {_SEP_HELP}",
                    )
        return text
    if kind == "tags":
        if text:
            for part in _split(text, ";"):
                if not _TAG_RE.match(part):
                    row.fail(name, f"{part!r} is not a source tag such as 'S3'; {_SEP_HELP}")
        return text
    if kind == "id_list":
        if not text:
            return ()
        ids = tuple(_split(text, ";"))
        for item in ids:
            if not ID_RE.match(item):
                row.fail(
                    name,
                    f"{item!r} is not a snake_case id; list ids separated by ';', "
                    "such as 'sign_in;presence'",
                )
        return ids
    if kind == "formula":
        if text:
            _check_formula_syntax(row, name, text)
        return text
    return text  # text


def _parse_number(row: _Row, name: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        row.fail(name, f"{text!r} is not a number; write plain digits such as 0.4 or 40000000")
    if not math.isfinite(number):
        row.fail(name, f"{text!r} is not a finite number")
    return number


# --------------------------------------------------------------------------- formulas

_FORMULA_HELP = (
    "write arithmetic over row ids, such as 'a_share * b_share' or "
    "'hours(end_utc - start_utc)' (numbers, ids, + - * /, parentheses and hours() only)"
)


def _formula_names(tree: ast.AST) -> list[str]:
    """Row ids a formula refers to (every name except the function ``hours``)."""
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return [
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and id(node) not in functions
    ]


def _check_formula_syntax(row: _Row, field: str, text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        row.fail(field, f"{text!r} is not a valid formula; {_FORMULA_HELP}")
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Call)
    allowed_ops = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            ok = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        elif isinstance(node, ast.Call):
            ok = (
                isinstance(node.func, ast.Name)
                and node.func.id == "hours"
                and len(node.args) == 1
                and not node.keywords
            )
        else:
            ok = isinstance(node, allowed + allowed_ops)
        if not ok:
            row.fail(field, f"{text!r} uses something a formula may not; {_FORMULA_HELP}")
    return tree


def _evaluate(node: ast.AST, values: dict[str, Any]) -> Any:
    import pandas as pd

    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        return _evaluate(node.args[0], values) / pd.Timedelta(hours=1)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right
    raise AssertionError(f"unexpected formula node {node!r}")  # pragma: no cover


def _show(result: Any) -> str:
    return f"{result:.6g}" if isinstance(result, float) else str(result)


def _check_formulas(rows: list[_Row], id_column: str) -> None:
    """Evaluate every derived row's formula over the other rows and compare with its value."""
    import pandas as pd

    by_id = {row[id_column]: row for row in rows}
    for row in rows:
        if row["status"] != "derived":
            continue
        text = row["formula"]
        stated = row["value"]
        if isinstance(stated, str) or (isinstance(stated, float) and math.isnan(stated)):
            row.fail("value", "a derived row needs a single number or time that its formula gives")
        tree = ast.parse(text, mode="eval")
        values: dict[str, Any] = {}
        for name in _formula_names(tree):
            if name == row[id_column]:
                row.fail("formula", f"{text!r} refers to its own row; use other rows' ids")
            source = by_id.get(name)
            if source is None:
                close = difflib.get_close_matches(name, list(by_id), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                row.fail("formula", f"{text!r} refers to {name!r}, which is not a row id{hint}")
            if source["status"] == "assumed":
                row.fail(
                    "formula",
                    f"{text!r} uses {name!r}, which is assumed; a derived value must come from "
                    "verified or derived rows (mark this row assumed instead)",
                )
            value = source["value"]
            if isinstance(value, str) or (isinstance(value, float) and math.isnan(value)):
                row.fail(
                    "formula",
                    f"{text!r} uses {name!r}, which has no single number or time in 'value'",
                )
            values[name] = value
        try:
            result = _evaluate(tree, values)
        except (TypeError, ZeroDivisionError, ValueError) as exc:
            row.fail("formula", f"{text!r} cannot be evaluated ({exc}); {_FORMULA_HELP}")
        if isinstance(result, pd.Timedelta):
            row.fail("formula", f"{text!r} gives a duration; wrap it in hours(...)")
        result_is_time = isinstance(result, pd.Timestamp)
        if result_is_time != isinstance(stated, pd.Timestamp):
            gives, holds = ("a time", "a number") if result_is_time else ("a number", "a time")
            row.fail("formula", f"{text!r} gives {gives}, but the value is {holds}")
        if isinstance(stated, pd.Timestamp):
            matches = stated == result
        else:
            matches = math.isclose(float(stated), float(result), rel_tol=DERIVED_REL_TOL)
        if not matches:
            row.fail(
                "value",
                f"derived value {row.raw['value']!r} does not match its formula {text!r}, "
                f"which gives {_show(result)}; correct the value or the formula",
            )


# --------------------------------------------------------------------------- generic checks


def _check_status(row: _Row, names: Iterable[str]) -> None:
    names = set(names)
    status = row["status"]
    if status == "verified" and not row.raw.get("source"):
        row.fail(
            "source",
            f"a verified row needs its source: one or more http(s) URLs {_SEP_HELP}",
        )
    if status == "derived":
        if not row.raw.get("derivation"):
            row.fail(
                "derivation",
                "a derived row needs its arithmetic written out, such as "
                "'0.50 x 0.40 = 0.20 (a_share x b_share)'",
            )
        if "formula" in names and not row.raw.get("formula"):
            row.fail("formula", f"a derived row needs a formula; {_FORMULA_HELP}")
    if status == "assumed" and not row.raw.get("reason"):
        row.fail("reason", "an assumed row needs a reason: why this value was chosen")


def _check_value(row: _Row, names: Iterable[str]) -> None:
    """Parse ``value`` by ``unit`` and check it against ``value_low``/``value_high``."""
    names = set(names)
    unit = row.raw.get("unit", "")
    text = row.raw.get("value", "")
    has_range = "value_low" in names
    low = row.parsed.get("value_low", math.nan) if has_range else math.nan
    high = row.parsed.get("value_high", math.nan) if has_range else math.nan
    if unit in (TIME_UNIT, TEXT_UNIT):
        if has_range and not (math.isnan(low) and math.isnan(high)):
            field = "value_low" if not math.isnan(low) else "value_high"
            row.fail(field, f"a range needs numbers, but this row's unit is {unit!r}")
        if not text:
            row.fail("value", f"a row whose unit is {unit!r} needs a value")
        if unit == TEXT_UNIT:
            row.parsed["value"] = text
        else:
            try:
                row.parsed["value"] = _parse_time(text)
            except ValueError:
                _bad_time(row, "value", text)
        return
    value = _parse_number(row, "value", text) if text else math.nan
    row.parsed["value"] = value
    if math.isnan(low) != math.isnan(high):
        missing = "value_low" if math.isnan(low) else "value_high"
        row.fail(missing, "a range needs both value_low and value_high")
    if math.isnan(value) and math.isnan(low):
        row.fail("value", "give a number in 'value', or a range in 'value_low' and 'value_high'")
    if not math.isnan(low):
        if low > high:
            row.fail(
                "value_low",
                f"value_low {row.raw['value_low']} is greater than value_high "
                f"{row.raw['value_high']}; the low end must not exceed the high end",
            )
        if not math.isnan(value) and not low <= value <= high:
            row.fail(
                "value",
                f"{text} lies outside its range {row.raw['value_low']} to "
                f"{row.raw['value_high']}; the value must sit inside the range",
            )


def _check_precision_given(row: _Row) -> None:
    """Rows carrying a time (in ``time_utc`` or a ``utc`` value) say how precise it is."""
    has_time = bool(row.raw.get("time_utc")) or row.raw.get("unit") == TIME_UNIT
    if has_time and not row.raw.get("time_precision"):
        row.fail(
            "time_precision",
            f"a row with a time needs its precision: one of {', '.join(TIME_PRECISIONS)}",
        )


def _check_window(row: _Row) -> None:
    """Timeline rows: a window is both ends or none, contains the time, and vague times need it."""
    start, end = row["window_start_utc"], row["window_end_utc"]
    if (start is None) != (end is None):
        missing = "window_start_utc" if start is None else "window_end_utc"
        row.fail(missing, "a window needs both window_start_utc and window_end_utc")
    precision = row["time_precision"]
    if start is None and precision not in ("exact", "approximate"):
        row.fail(
            "window_start_utc",
            f"a time of precision {precision!r} is a placeholder; give the window it lies in "
            "(window_start_utc and window_end_utc)",
        )
    if start is not None:
        if start > end:
            row.fail("window_start_utc", "the window starts after it ends; swap the two ends")
        if not start <= row["time_utc"] <= end:
            row.fail(
                "time_utc",
                f"{row.raw['time_utc']} lies outside its window {row.raw['window_start_utc']} "
                f"to {row.raw['window_end_utc']}; the placeholder must sit inside the window",
            )


# --------------------------------------------------------------------------- schemas

_STATUS_COLUMNS = (
    Column("status", "status", required=True),
    Column("source_tags", "tags"),
    Column("source", "sources"),
)

TIMELINE_SCHEMA = Schema(
    "timeline_2015.csv",
    (
        Column("id", "id", required=True),
        Column("time_utc", "time", required=True),
        Column("time_precision", "choice", required=True, choices=TIME_PRECISIONS),
        Column("window_start_utc", "time"),
        Column("window_end_utc", "time"),
        Column("time_note", "text"),
        Column("event", "text", required=True),
        Column("services", "id_list"),
        *_STATUS_COLUMNS,
        Column("note", "text"),
    ),
    row_checks=(_check_window,),
)

SERVICES_SCHEMA = Schema(
    "services_2015.csv",
    (
        Column("id", "id", required=True),
        Column("name", "text", required=True),
        Column("affected", "choice", required=True, choices=("yes", "no", "partly")),
        Column("applies_to", "text", required=True),
        Column("record", "text", required=True),
        *_STATUS_COLUMNS,
        Column("note", "text"),
    ),
)

_VALUE_COLUMNS = (
    Column("value", "value"),
    Column("value_low", "number"),
    Column("value_high", "number"),
    Column("unit", "text", required=True),
)
_PROVENANCE_COLUMNS = (
    *_STATUS_COLUMNS,
    Column("derivation", "text"),
    Column("formula", "formula"),
    Column("reason", "text"),
    Column("note", "text"),
)

INCIDENT_2010_SCHEMA = Schema(
    "incident_2010.csv",
    (
        Column("id", "id", required=True),
        Column("quantity", "text", required=True),
        *_VALUE_COLUMNS,
        Column("time_utc", "time"),
        Column("time_precision", "choice", choices=TIME_PRECISIONS),
        *_PROVENANCE_COLUMNS,
    ),
    row_checks=(_check_precision_given,),
)

SCENARIO_SCHEMA = Schema(
    "scenario_2015.csv",
    (
        Column("parameter", "id", required=True),
        *_VALUE_COLUMNS,
        *_PROVENANCE_COLUMNS,
    ),
)


# --------------------------------------------------------------------------- reading


def read_rows(path: Path, schema: Schema) -> list[_Row]:
    """Read, check and parse every row of ``path`` against ``schema``.

    Other loaders with cross-row rules of their own (the service graph) build on it: each row
    keeps its line number, so their errors can name the line too.
    """
    filename = path.name
    names = schema.names
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataError(filename, 1, None, "the file is empty; expected a header row") from None
        seen_header: set[str] = set()
        for name in header:
            if name in seen_header:
                raise DataError(filename, 1, name, "the column appears twice in the header")
            seen_header.add(name)
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise DataError(
                    filename, 1, name, f"unknown column; {hint}expected {', '.join(names)}"
                )
        for name in names:
            if name not in seen_header:
                raise DataError(
                    filename,
                    1,
                    name,
                    f"the column is missing from the header; expected {', '.join(names)}",
                )
        rows: list[_Row] = []
        last_line = reader.line_num
        for cells in reader:
            line = last_line + 1
            last_line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue  # blank line
            if len(cells) > len(header):
                raise DataError(
                    filename,
                    line,
                    None,
                    f"{len(cells)} fields but the header has {len(header)}; "
                    "quote any text that contains a comma",
                )
            cells = cells + [""] * (len(header) - len(cells))
            raw = {h: c.strip() for h, c in zip(header, cells, strict=True)}
            rows.append(_parse_row(_Row(filename, line, raw), schema))
    id_column = schema.id_column
    if id_column is not None:
        first_line: dict[str, int] = {}
        for row in rows:
            key = row[id_column]
            if key in first_line:
                row.fail(
                    id_column,
                    f"duplicate id {key!r} (first used on line {first_line[key]}); "
                    "every id must be unique",
                )
            first_line[key] = row.line
    if "formula" in names and id_column is not None:
        _check_formulas(rows, id_column)
    return rows


def _parse_row(row: _Row, schema: Schema) -> _Row:
    names = schema.names
    for column in schema.columns:
        text = row.raw[column.name]
        if column.required and not text:
            row.fail(column.name, "this field must not be empty")
        if column.kind != "value":
            row.parsed[column.name] = _parse_cell(row, column, text)
    if "value" in names:
        _check_value(row, names)
    if "status" in names:
        _check_status(row, names)
    for check in schema.row_checks:
        check(row)
    return row


def _to_frame(rows: list[_Row], schema: Schema) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, Any] = {}
    for column in schema.columns:
        cells = [row.parsed[column.name] for row in rows]
        if column.kind == "time":
            columns[column.name] = pd.to_datetime(
                pd.Series([pd.NaT if c is None else c for c in cells], dtype=object), utc=True
            )
        elif column.kind == "number":
            columns[column.name] = pd.Series(cells, dtype=float)
        elif column.kind in ("value", "id_list"):
            columns[column.name] = pd.Series(cells, dtype=object)
        else:
            columns[column.name] = pd.Series(cells, dtype=object).astype(str)
    return pd.DataFrame(columns, columns=list(schema.names))


def load_table(path: str | Path, schema: Schema) -> pd.DataFrame:
    """Load one CSV data file and validate it against ``schema``.

    Parameters
    ----------
    path : str or Path
        The CSV file. Messages name it by its file name.
    schema : Schema
        Its columns and checks, such as :data:`SERVICES_SCHEMA`.

    Returns
    -------
    pandas.DataFrame
        One row per data row, columns in schema order. Time columns are tz-aware UTC
        (``NaT`` where empty), number columns float (``NaN`` where empty), ``value`` holds a
        float, a Timestamp or a str depending on ``unit``, id lists are tuples, text is str.

    Raises
    ------
    DataError
        If anything in the file is malformed; the message names the file, line and field.

    Examples
    --------
    >>> services = load_table(DATA_DIR / "services_2015.csv", SERVICES_SCHEMA)
    >>> services.set_index("id").loc["skype_for_business", "affected"]
    'no'
    """
    path = Path(path)
    return _to_frame(read_rows(path, schema), schema)


def _default(path: str | Path | None, schema: Schema) -> Path:
    return DATA_DIR / schema.filename if path is None else Path(path)


def load_services_2015(path: str | Path | None = None) -> pd.DataFrame:
    """Services named in the public record of the 2015 outage, and whether each was affected.

    Parameters
    ----------
    path : str or Path, optional
        File to read instead of ``data/services_2015.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``name``, ``affected`` (yes / no / partly), ``applies_to`` (the phase
        of the incident the row describes), ``record`` (what the sources say), ``status``,
        ``source_tags``, ``source``, ``note``.

    Examples
    --------
    >>> services = load_services_2015().set_index("id")
    >>> services.loc["skype_for_business", "affected"]
    'no'
    >>> services.loc["skype_for_web", "applies_to"]
    'early phase only (status fault, morning of 21 Sept)'
    """
    return load_table(_default(path, SERVICES_SCHEMA), SERVICES_SCHEMA)


def load_timeline_2015(
    path: str | Path | None = None, *, services_path: str | Path | None = None
) -> pd.DataFrame:
    """The 21 September 2015 timeline, one sourced event per row, in time order.

    Parameters
    ----------
    path : str or Path, optional
        File to read instead of ``data/timeline_2015.csv``.
    services_path : str or Path, optional
        Services file that the ``services`` column is checked against, instead of
        ``data/services_2015.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``time_utc`` (tz-aware UTC), ``time_precision``, ``window_start_utc``
        and ``window_end_utc`` (the span a placeholder time stands for; ``NaT`` for clock
        times), ``time_note``, ``event``, ``services`` (tuple of service ids), ``status``,
        ``source_tags``, ``source``, ``note``. Sorted by ``time_utc``, ties in file order.

    Raises
    ------
    DataError
        If a row is malformed or names a service missing from the services file.

    Examples
    --------
    >>> timeline = load_timeline_2015().set_index("id")
    >>> timeline.loc["full_restoration", "time_utc"]
    Timestamp('2015-09-21 23:53:00+0000', tz='UTC')
    >>> timeline.loc["downdetector_onset", "time_precision"]
    'approximate'
    >>> "skype_for_business" in timeline.loc["network_issue_found", "services"]
    True
    """
    schema = TIMELINE_SCHEMA
    rows = read_rows(_default(path, schema), schema)
    known = set(load_services_2015(services_path)["id"])
    services_file = _default(services_path, SERVICES_SCHEMA).name
    for row in rows:
        for service in row["services"]:
            if service not in known:
                close = difflib.get_close_matches(service, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                row.fail(
                    "services",
                    f"unknown service id {service!r}{hint}; use ids listed in {services_file}",
                )
    frame = _to_frame(rows, schema)
    return frame.sort_values("time_utc", kind="stable").reset_index(drop=True)


def load_incident_2010(path: str | Path | None = None) -> pd.DataFrame:
    """Figures on the December 2010 supernode collapse, each with its status and source.

    Parameters
    ----------
    path : str or Path, optional
        File to read instead of ``data/incident_2010.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``quantity``, ``value`` (float, or Timestamp where ``unit`` is
        ``utc``, or str where it is ``text``), ``value_low``, ``value_high`` (a stated range,
        ``NaN`` if none), ``unit``, ``time_utc`` (when a reading was taken), ``time_precision``,
        ``status``, ``source_tags``, ``source``, ``derivation``, ``formula``, ``reason``,
        ``note``.

    Examples
    --------
    >>> incident = load_incident_2010().set_index("id")
    >>> incident.loc["crashed_share_of_all", "value"]
    0.2
    >>> incident.loc["supernodes_lost_share", ["value_low", "value_high"]].tolist()
    [0.25, 0.3]
    >>> incident.loc["failure_window_start_utc", "value"]
    Timestamp('2010-12-22 16:00:00+0000', tz='UTC')
    """
    return load_table(_default(path, INCIDENT_2010_SCHEMA), INCIDENT_2010_SCHEMA)


def load_scenario_2015(path: str | Path | None = None) -> pd.DataFrame:
    """The parameter card of the 2015 teaching scenario.

    Parameters
    ----------
    path : str or Path, optional
        File to read instead of ``data/scenario_2015.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter``, ``value`` (float, or Timestamp where ``unit`` is ``utc``, or str
        where it is ``text``), ``value_low`` and ``value_high`` (a stated range, or for
        assumed values the suggested span, ``NaN`` if none), ``unit``, ``status``,
        ``source_tags``, ``source``, ``derivation``, ``formula``, ``reason``, ``note``.

    Examples
    --------
    >>> card = load_scenario_2015().set_index("parameter")
    >>> card.loc["grpc_backoff_multiplier", ["value", "status"]].tolist()
    [1.6, 'verified']
    >>> card.loc["concurrent_users_at_onset", "status"]
    'assumed'
    """
    return load_table(_default(path, SCENARIO_SCHEMA), SCENARIO_SCHEMA)


# --------------------------------------------------------------------------- parameter access


@lru_cache(maxsize=8)
def _card_records(path: str, mtime_ns: int, size: int) -> dict[str, dict[str, Any]]:
    card = load_scenario_2015(path)
    return {record["parameter"]: record for record in card.to_dict(orient="records")}


def _records(path: str | Path | None) -> dict[str, dict[str, Any]]:
    resolved = _default(path, SCENARIO_SCHEMA).resolve()
    stat = resolved.stat()
    # Keyed on modification time and size, so an edited card is re-read.
    return _card_records(str(resolved), stat.st_mtime_ns, stat.st_size)


def _record(name: str, path: str | Path | None) -> dict[str, Any]:
    records = _records(path)
    if name not in records:
        close = difflib.get_close_matches(name, list(records), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownParameterError(
            f"{name!r} is not a parameter in {_default(path, SCENARIO_SCHEMA).name}{hint}"
        )
    return records[name]


def parameter_record(name: str, path: str | Path | None = None) -> dict[str, Any]:
    """The whole card row for one scenario parameter: value, range, unit and provenance.

    Parameters
    ----------
    name : str
        Parameter name, such as ``"affected_client_share"``.
    path : str or Path, optional
        Card to read instead of ``data/scenario_2015.csv``.

    Returns
    -------
    dict
        Column name to value (a copy; changing it does not change the card).

    Raises
    ------
    KeyError
        If the card has no such parameter (the message suggests close names).

    Examples
    --------
    >>> record = parameter_record("grpc_max_backoff_s")
    >>> record["value"], record["unit"], record["status"]
    (120.0, 's', 'verified')
    """
    return dict(_record(name, path))


def parameter(name: str, path: str | Path | None = None) -> float | pd.Timestamp | str:
    """One value from the 2015 scenario card.

    Parameters
    ----------
    name : str
        Parameter name, such as ``"outage_start_utc"`` or ``"affected_client_share"``.
    path : str or Path, optional
        Card to read instead of ``data/scenario_2015.csv``.

    Returns
    -------
    float, pandas.Timestamp or str
        A float for numbers, a tz-aware UTC Timestamp for times (unit ``utc``), a str for
        text (unit ``text``).

    Raises
    ------
    KeyError
        If the card has no such parameter.
    ValueError
        If the parameter has only a range; use :func:`parameter_range`.

    Examples
    --------
    >>> parameter("restoration_utc") - parameter("outage_start_utc")
    Timedelta('0 days 15:30:00')
    >>> parameter("affected_client_share")
    0.4
    >>> parameter("recovery_action")
    'rebalance_traffic_load'
    """
    record = _record(name, path)
    value = record["value"]
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"{name!r} has a range but no single value; use parameter_range({name!r})")
    return value


def parameter_range(name: str, path: str | Path | None = None) -> tuple[float, float]:
    """The ``(value_low, value_high)`` range of one scenario parameter.

    For verified rows this is the range the sources give; for assumed rows it is the span the
    fact sheet suggests, which suits a slider's bounds.

    Parameters
    ----------
    name : str
        Parameter name.
    path : str or Path, optional
        Card to read instead of ``data/scenario_2015.csv``.

    Returns
    -------
    tuple of float

    Raises
    ------
    KeyError
        If the card has no such parameter.
    ValueError
        If the parameter has no range.

    Examples
    --------
    >>> parameter_range("concurrent_users_at_onset")
    (30000000.0, 50000000.0)
    >>> parameter_range("reported_duration_h")
    (12.0, 15.5)
    """
    record = _record(name, path)
    low, high = record["value_low"], record["value_high"]
    if math.isnan(low):
        raise ValueError(f"{name!r} has no range (value_low and value_high are empty)")
    return float(low), float(high)


def scenario_parameters(path: str | Path | None = None) -> dict[str, float | pd.Timestamp | str]:
    """Every single-valued parameter of the 2015 scenario card, by name.

    Parameters that have only a range (no single value) are left out; see
    :func:`parameter_range`.

    Parameters
    ----------
    path : str or Path, optional
        Card to read instead of ``data/scenario_2015.csv``.

    Returns
    -------
    dict
        Name to value: float, tz-aware UTC Timestamp or str, as for :func:`parameter`.

    Examples
    --------
    >>> params = scenario_parameters()
    >>> params["grpc_initial_backoff_s"], params["grpc_jitter_fraction"]
    (1.0, 0.2)
    >>> "reported_duration_h" in params
    False
    """
    return {
        name: record["value"]
        for name, record in _records(path).items()
        if not (isinstance(record["value"], float) and math.isnan(record["value"]))
    }
