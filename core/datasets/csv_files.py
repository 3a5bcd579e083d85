"""Reading a CSV: numbers, one sample per row, with an optional header, text column and label column.

Comma, semicolon, tab or whitespace separated; quoted cells (texts with commas) are read as the csv module
reads them. The texts are the column named by the option ``texts`` (a header name), else one named
'text'/'texts', else the one column in which no cell is a number; the labels are the column named by
``labels``, else one named 'label'/'labels' (numbers or names). Every other column must hold numbers.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from .activations import LABEL_NAMES, TEXT_NAMES, Table, as_labels, as_texts, column_key
from .base import DatasetError
from .option_names import where_set


def read_csv(data: bytes, filename: str, options: dict) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{filename} is not UTF-8 text (byte {error.start} cannot be decoded). Save it as a UTF-8 CSV."
        ) from error
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise DatasetError(f"{filename} has no rows. Add one row per sample with numbers separated by commas.")
    delimiter = next((d for d in (",", ";", "\t") if d in lines[0][1]), None)  # None: whitespace
    first_row = split_cells(lines[0][1], delimiter)
    second_row = split_cells(lines[1][1], delimiter) if len(lines) > 1 else []
    header = first_row if _is_header(first_row, second_row) else None
    numbers = lines[1:] if header else lines
    if not numbers:
        raise DatasetError(f"{filename} has a header row but no data rows. Add one row per sample below it.")
    wants_columns = options.get("texts") is not None or options.get("labels") is not None
    named = header is not None and any(cell.lower() in TEXT_NAMES + LABEL_NAMES for cell in header)
    if not (wants_columns or named or any(not is_number(cell) for cell in split_cells(numbers[0][1], delimiter))):
        try:  # a plain numeric file: the fast C parser; the slow pass below reads unusual or broken files
            return Table(np.loadtxt(io.StringIO("\n".join(line for _, line in numbers)), delimiter=delimiter,
                                    ndmin=2, comments=None))
        except ValueError:
            pass
    body = _rows(numbers, delimiter, filename)
    return _table(body, numbers, header, options, filename)


def _is_header(first_row: list[str], second_row: list[str]) -> bool:
    """The first row is a header when none of its cells is a number, or one is text where the next row has a number."""
    if all(not is_number(cell) for cell in first_row):
        return True
    return any(not is_number(a) and is_number(b) for a, b in zip(first_row, second_row))


def _rows(numbers, delimiter, filename: str) -> list[list[str]]:
    if delimiter is None:
        body = [line.split() for _, line in numbers]
    else:  # one reader over all rows: a quoted text may hold the delimiter
        body = list(csv.reader((line for _, line in numbers), delimiter=delimiter, skipinitialspace=True))
        body = [[cell.strip() for cell in row] for row in body]
    width = len(body[0])
    for (line_number, _), row in zip(numbers, body):
        if len(row) != width:
            raise DatasetError(
                f"{filename}: line {line_number} has {len(row)} values but the first data row has {width}. "
                "Every row needs the same number of columns."
            )
    return body


def _table(body: list[list[str]], numbers, header, options: dict, filename: str) -> Table:
    width = len(body[0])
    names = header if header is not None and len(header) == width else [f"column {i + 1}" for i in range(width)]
    if header is None and (options.get("texts") is not None or options.get("labels") is not None):
        raise DatasetError(f"{filename} has no header row, so no column can be named for the texts or labels. Add a "
                           "header row with the column names, or leave the texts and labels unnamed: "
                           f"{where_set('texts', None)}, {where_set('labels', None)}.")
    texts_name = column_key(options.get("texts"), TEXT_NAMES, names, filename, "texts")
    labels_name = column_key(options.get("labels"), LABEL_NAMES, names, filename, "labels")
    columns = list(zip(*body))
    if texts_name is None:
        wordy = [i for i, column in enumerate(columns) if names[i] != labels_name
                 and not any(is_number(cell) for cell in column)]
        if len(wordy) > 1:
            raise DatasetError(f"{filename}: the columns {', '.join(repr(names[i]) for i in wordy)} hold no numbers. "
                               f"Name the texts' column, {where_set('texts', 'NAME')}, and the labels' one, "
                               f"{where_set('labels', 'NAME')}; or remove the others.")
        texts_name = names[wordy[0]] if wordy else None
    special = {names.index(name) for name in (texts_name, labels_name) if name is not None}
    numeric = [i for i in range(width) if i not in special]
    if not numeric:
        raise DatasetError(f"{filename} has no numeric columns besides the texts and labels. Add the data's numbers.")
    for (line_number, _), row in zip(numbers, body):
        for column in numeric:
            if not is_number(row[column]):
                name = f" ({header[column]!r})" if header and column < len(header) else ""
                raise DatasetError(
                    f"{filename}: the cell at line {line_number}, column {column + 1}{name} is {row[column]!r}, not a "
                    "number. Fix or remove it (only a first header row, a text column and a label column may hold "
                    "text); encode categories as numbers."
                )
    table = Table(np.array([[row[i] for i in numeric] for row in body], dtype=np.float64))
    if texts_name is not None:
        table.texts = as_texts(np.array(columns[names.index(texts_name)], dtype=str), f"{filename}: column "
                               f"{texts_name!r}", len(body))
    if labels_name is not None:
        values = columns[names.index(labels_name)]
        values = np.array([float(v) for v in values]) if all(is_number(v) for v in values) else np.array(values, dtype=str)
        table.labels, table.label_names = as_labels(values, f"{filename}: column {labels_name!r}", len(body))
    return table


def split_cells(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
