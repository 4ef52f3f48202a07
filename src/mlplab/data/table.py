"""Tables (CSV, Parquet) with a target column -> a numeric :class:`Dataset`.

Categorical features are one-hot encoded with scikit-learn's ``OneHotEncoder``; missing values
are reported, never guessed. Needs pandas (and pyarrow for Parquet): ``pip install
mlplab[table]``.
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from ..errors import check_choice
from .datasets import Dataset


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("load_table needs pandas (and pyarrow for Parquet): "
                          "pip install 'mlplab[table]'") from None
    return pandas


def _read(path: str):
    pd = _pandas()
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_table: {path!r} does not exist")
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if lower.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        return pd.read_csv(path, sep="\t" if lower.endswith(".tsv") else ",")
    raise ValueError(f"load_table: cannot tell the format of {path!r}; valid endings: .csv, "
                     ".csv.gz, .tsv, .txt, .parquet, .pq")


def load_table(path: str | os.PathLike, target: str, *,
               categorical: Iterable[str] | None = None, drop: Iterable[str] = (),
               missing: str = "error", task: str = "auto", dtype: str = "float32") -> Dataset:
    """Features and target of a CSV or Parquet table.

    Parameters
    ----------
    target : the target column's name
    categorical : feature columns to one-hot encode; default: every non-numeric column
        (strings, categories, booleans)
    drop : columns to leave out (identifiers, leaks)
    missing : ``"error"`` (default: the error lists each column with missing values and how
        many) or ``"drop"`` (drop those rows, and say how many in ``description``)
    task : ``"auto"`` (a non-numeric or integer target is classification, a float target is
        regression), ``"classification"`` or ``"regression"``

    Class labels become 0..C-1 in sorted order, their names in ``target_names``; one-hot columns
    are named ``"column=value"`` in ``feature_names``.
    """
    from sklearn.preprocessing import OneHotEncoder

    path = os.fspath(path)
    check_choice("load_table", "missing", missing, ("error", "drop"))
    check_choice("load_table", "task", task, ("auto", "classification", "regression"))
    check_choice("load_table", "dtype", dtype, ("float32", "float64"))
    df = _read(path)
    if target not in df.columns:
        raise ValueError(f"load_table: target column {target!r} not in {path!r}; columns: "
                         f"{list(df.columns)}")
    drop = list(drop)
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise ValueError(f"load_table: drop names unknown columns {unknown}; columns: "
                         f"{list(df.columns)}")
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
                "(e.g. sklearn.impute.SimpleImputer, fit on the training split only)")
        before = len(df)
        df = df.dropna()
        note = f"dropped {before - len(df)} of {before} rows with missing values in {listed}"
        if not len(df):
            raise ValueError(f"load_table: every row of {path!r} has a missing value")

    y_col, X_df = df[target], df.drop(columns=[target])
    if X_df.shape[1] == 0:
        raise ValueError(f"load_table: {path!r} has no feature columns besides {target!r}")
    is_numeric = {c: X_df[c].dtype.kind in "iuf" for c in X_df.columns}
    categorical = ([c for c, num in is_numeric.items() if not num] if categorical is None
                   else list(categorical))
    bad = [c for c in categorical if c not in X_df.columns]
    if bad:
        raise ValueError(f"load_table: categorical names unknown feature columns {bad}; "
                         f"features: {list(X_df.columns)}")
    numeric = [c for c in X_df.columns if c not in categorical]
    not_numbers = [c for c in numeric if not is_numeric[c]]
    if not_numbers:
        raise ValueError(f"load_table: columns {not_numbers} are not numeric; list them in "
                         "categorical= to one-hot encode them")
    parts, names = [X_df[numeric].to_numpy(dtype=np.float64)], list(numeric)
    if categorical:
        encoder = OneHotEncoder(sparse_output=False, dtype=np.float64)
        parts.append(encoder.fit_transform(X_df[categorical].astype(str)))
        names += [f"{c}={v}" for c, cats in zip(categorical, encoder.categories_) for v in cats]
    X = np.hstack(parts).astype(dtype)

    kind = y_col.dtype.kind
    if task == "auto":
        task = "regression" if kind == "f" else "classification"
    if task == "regression":
        if kind not in "iuf":
            raise ValueError(f"load_table: task='regression' needs a numeric target, column "
                             f"{target!r} has dtype {y_col.dtype}")
        y, target_names, task_name = y_col.to_numpy(dtype=dtype), None, "regression"
    else:
        classes, y = np.unique(y_col.to_numpy(), return_inverse=True)
        target_names = [str(c) for c in classes]
        task_name = "binary" if len(classes) == 2 else "multiclass"
        y = y.astype(np.int64)
    return Dataset(X, y, task_name, os.path.basename(path), names, target_names,
                   description=note)
