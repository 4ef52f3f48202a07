"""Tables (CSV, Parquet) with a target column -> a numeric :class:`Dataset`.

Categorical features are one-hot encoded with scikit-learn's ``OneHotEncoder``; missing values,
stray text in a numeric column and columns with too many distinct values (identifiers) are
reported, never guessed or encoded. Needs pandas (and pyarrow for Parquet): ``pip install
mlplab[table]``.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable

import numpy as np

from ..errors import check_choice, check_positive_int
from .datasets import Dataset

#: the most distinct values a column may have to be one-hot encoded (``max_categories``): an
#: identifier column of 20,000 values would otherwise become 20,000 dense columns (1.6 GB for
#: 20,000 rows in float32)
MAX_CATEGORIES = 1000

#: errors of a file that exists but cannot be parsed (truncated gzip, bad bytes, broken Parquet)
_UNREADABLE = (EOFError, OSError, zlib.error, UnicodeDecodeError, ValueError)


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "load_table needs pandas (and pyarrow for Parquet): pip install 'mlplab[table]'"
        ) from None
    return pandas


def _read(path: str):
    pd = _pandas()
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_table: {path!r} does not exist")
    lower = path.lower()
    parquet = lower.endswith((".parquet", ".pq"))
    if not parquet and not lower.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        raise ValueError(
            f"load_table: cannot tell the format of {path!r}; valid endings: .csv, "
            ".csv.gz, .tsv, .txt, .parquet, .pq"
        )
    try:
        if parquet:
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if lower.endswith(".tsv") else ",")
    except _UNREADABLE as e:
        raise ValueError(
            f"load_table: cannot read {path!r}, it is truncated or corrupt "
            f"({type(e).__name__}: {e})"
        ) from None


def _stray_text(column) -> list[tuple[object, object]]:
    """(row, value) of the cells that are not numbers in a text column that is mostly numbers
    (a typo such as ``"oops"`` in a column of measurements); empty for a real text column."""
    import pandas as pd

    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return []
    cells = column.dropna()
    bad = cells[pd.to_numeric(cells, errors="coerce").isna()]
    if not len(bad) or len(bad) >= len(cells) - len(bad):
        return []
    return list(bad.items())


def _report_stray(path: str, name: str, stray: list, what: str) -> ValueError:
    shown = ", ".join(f"row {row}: {value!r}" for row, value in stray[:5])
    more = f" and {len(stray) - 5} more" if len(stray) > 5 else ""
    return ValueError(
        f"load_table: column {name!r} of {path!r} holds numbers except in "
        f"{len(stray)} cell(s) ({shown}{more}; rows count from 0 after the "
        f"header); fix them (an empty cell is a missing value) {what}"
    )


def _check_cardinality(
    path: str, X_df, categorical: list[str], max_categories: int, dtype: str
) -> None:
    """Refuse to one-hot encode a column with more than ``max_categories`` distinct values."""
    for c in categorical:
        n = int(X_df[c].nunique())
        if n > max_categories:
            size = len(X_df) * n * np.dtype(dtype).itemsize
            raise ValueError(
                f"load_table: column {c!r} of {path!r} has {n:,} distinct values, more than "
                f"{max_categories=}: one-hot encoding it would add {n:,} columns "
                f"({size / 1e9:.2f} GB of {dtype} for {len(X_df):,} rows). Drop it "
                f"(drop=[{c!r}]) if it is an identifier, or raise max_categories"
            )


def load_table(
    path: str | os.PathLike,
    target: str,
    *,
    categorical: Iterable[str] | None = None,
    drop: Iterable[str] = (),
    missing: str = "error",
    task: str = "auto",
    dtype: str = "float32",
    max_categories: int = MAX_CATEGORIES,
) -> Dataset:
    """Features and target of a CSV or Parquet table.

    Parameters
    ----------
    target : the target column's name
    categorical : feature columns to one-hot encode; default: every non-numeric column
        (strings, categories, booleans). A text column that is mostly numbers is an error that
        names the rows and values of the cells that are not numbers (a typo is not a category);
        list it here to encode it as text all the same.
    drop : columns to leave out (identifiers, leaks); not the target
    max_categories : the most distinct values a one-hot encoded column may have (default
        :data:`MAX_CATEGORIES`, 1000); more is an error (an identifier would become as many
        dense columns)
    missing : ``"error"`` (default: the error lists each column with missing values and how
        many) or ``"drop"`` (drop those rows, and say how many in ``description``)
    task : ``"auto"`` (a non-numeric or integer target is classification, a float target is
        regression), ``"classification"`` or ``"regression"``; with ``"auto"`` or
        ``"regression"`` a target of numbers with stray text is an error naming the cells

    A file that cannot be parsed (a truncated ``.csv.gz``, a broken Parquet file) is a
    ``ValueError`` naming it.

    Class labels become 0..C-1 in sorted order, their names in ``target_names``; one-hot columns
    are named ``"column=value"`` in ``feature_names``.
    """
    from sklearn.preprocessing import OneHotEncoder

    path = os.fspath(path)
    check_choice("load_table", "missing", missing, ("error", "drop"))
    check_choice("load_table", "task", task, ("auto", "classification", "regression"))
    check_choice("load_table", "dtype", dtype, ("float32", "float64"))
    max_categories = check_positive_int("load_table", "max_categories", max_categories)
    df = _read(path)
    if not len(df):
        raise ValueError(f"load_table: {path!r} has no rows (a header only, or an empty file)")
    if target not in df.columns:
        raise ValueError(
            f"load_table: target column {target!r} not in {path!r}; columns: {list(df.columns)}"
        )
    drop = list(drop)
    if target in drop:
        raise ValueError(
            f"load_table: drop names the target column {target!r}; the target "
            f"stays (drop lists feature columns to leave out), got {drop=}"
        )
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise ValueError(
            f"load_table: drop names unknown columns {unknown}; columns: {list(df.columns)}"
        )
    df = df.drop(columns=drop)
    counts = df.isna().sum()
    counts = counts[counts > 0]
    note = ""
    if len(counts):
        listed = ", ".join(f"{c!r} ({n} rows)" for c, n in counts.items())
        if missing == "error":
            raise ValueError(
                f"load_table: missing values in {listed} of {len(df)} rows. mlplab does not "
                "guess them: pass missing='drop' to drop those rows, or impute them first "
                "(e.g. sklearn.impute.SimpleImputer, fit on the training split only)"
            )
        before = len(df)
        df = df.dropna()
        note = f"dropped {before - len(df)} of {before} rows with missing values in {listed}"
        if not len(df):
            raise ValueError(f"load_table: every row of {path!r} has a missing value")

    y_col, X_df = df[target], df.drop(columns=[target])
    if X_df.shape[1] == 0:
        raise ValueError(f"load_table: {path!r} has no feature columns besides {target!r}")
    is_numeric = {c: X_df[c].dtype.kind in "iuf" for c in X_df.columns}
    categorical_given = categorical is not None
    categorical = (
        [c for c, num in is_numeric.items() if not num]
        if categorical is None
        else list(categorical)
    )
    bad = [c for c in categorical if c not in X_df.columns]
    if bad:
        raise ValueError(
            f"load_table: categorical names unknown feature columns {bad}; "
            f"features: {list(X_df.columns)}"
        )
    for c in X_df.columns:  # a listed column is text by the caller's word
        stray = [] if categorical_given and c in categorical else _stray_text(X_df[c])
        if stray:
            raise _report_stray(
                path,
                c,
                stray,
                f"or list {c!r} in categorical= to one-hot encode the column as text",
            )
    numeric = [c for c in X_df.columns if c not in categorical]
    not_numbers = [c for c in numeric if not is_numeric[c]]
    if not_numbers:
        raise ValueError(
            f"load_table: columns {not_numbers} are not numeric; list them in "
            "categorical= to one-hot encode them"
        )
    for c in numeric:  # inf (or 1e400, read as inf) would train on inf silently
        values = X_df[c].to_numpy(dtype=np.float64)
        rows = np.flatnonzero(~np.isfinite(values))
        if len(rows):
            raise ValueError(
                f"load_table: column {c!r} of {path!r} holds infinite values "
                f"(rows {rows[:5].tolist()}: {values[rows[:5]].tolist()}); "
                "replace or drop them first"
            )
    _check_cardinality(path, X_df, categorical, max_categories, dtype)
    parts, names = [X_df[numeric].to_numpy(dtype=np.float64).astype(dtype)], list(numeric)
    if categorical:  # encoded straight into dtype: 0 and 1 are exact, no float64 copy
        encoder = OneHotEncoder(sparse_output=False, dtype=np.dtype(dtype))
        parts.append(encoder.fit_transform(X_df[categorical].astype(str)))
        names += [f"{c}={v}" for c, cats in zip(categorical, encoder.categories_) for v in cats]
    X = np.hstack(parts)

    stray = _stray_text(y_col) if task != "classification" else []
    if stray:
        raise _report_stray(
            path,
            target,
            stray,
            "or pass task='classification' if the target's values are class names",
        )
    kind = y_col.dtype.kind
    if task == "auto":
        task = "regression" if kind == "f" else "classification"
    if task == "regression":
        if kind not in "iuf":
            raise ValueError(
                f"load_table: task='regression' needs a numeric target, column "
                f"{target!r} has dtype {y_col.dtype}"
            )
        y, target_names, task_name = y_col.to_numpy(dtype=dtype), None, "regression"
    else:
        classes, y = np.unique(y_col.to_numpy(), return_inverse=True)
        target_names = [str(c) for c in classes]
        task_name = "binary" if len(classes) == 2 else "multiclass"
        y = y.astype(np.int64)
    return Dataset(X, y, task_name, os.path.basename(path), names, target_names, description=note)
