"""Reproduction of ProPublica's COMPAS error rates by race ("Machine Bias", 2016).

Source: J. Larson, S. Mattu, L. Kirchner, J. Angwin, "How We Analyzed the COMPAS
Recidivism Algorithm", ProPublica, 23 May 2016, and its notebook
``Compas Analysis.ipynb`` in github.com/propublica/compas-analysis (commit ``bafff5d``,
the commit the bundled data comes from). "High risk" means ``score_text`` is Medium or
High (``decile_score >= 5``); the outcome is a new charge within two years.

Published figures (the notebook's truth-table cells "Black defendants" / "White defendants",
read from the repository at that commit; the "Machine Bias" article's table "Prediction Fails
Differently for Black Defendants" rounds them to 44.9 / 23.5 and 28.0 / 47.7):

================================  ================  ===============
race                              African-American  Caucasian
================================  ================  ===============
false-positive rate               44.85 %           23.45 %
false-negative rate               27.99 %           47.72 %
counts TN / FP / FN / TP          990/805/532/1369  1139/349/461/505
================================  ================  ===============

These truth tables are computed on the notebook's ``cox-parsed.csv`` population of
**7,214** people (3,696 Black, 2,454 white: the row and race counts of
``compas-scores-two-years.csv``), *not* on the 6,172 rows left by the filter the notebook
applies before its logistic regression (``days_b_screening_arrest`` within ±30,
``is_recid != -1``, ``c_charge_degree != 'O'``, ``score_text != 'N/A'``). On the
two-year file without that filter, ``two_year_recid`` and ``score_text`` give exactly the
published counts; on the filtered 6,172 rows the rates are FPR 42.34 % vs 22.01 % and
FNR 28.48 % vs 49.64 % — the same direction, a different population.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drift_pipeline.lib.fairness import group_rates

__all__ = ["PUBLISHED_ERROR_RATES", "error_rates_by_race", "load_two_year_file", "propublica_filter"]

# Percent, as printed in the notebook (two decimals) and rounded to one in the article.
PUBLISHED_ERROR_RATES = {
    "African-American": {"fpr": 44.85, "fnr": 27.99, "tn": 990, "fp": 805, "fn": 532, "tp": 1369},
    "Caucasian": {"fpr": 23.45, "fnr": 47.72, "tn": 1139, "fp": 349, "fn": 461, "tp": 505},
}


def load_two_year_file(path: Path) -> pd.DataFrame:
    """Read ``compas-scores-two-years[-deidentified].csv`` (7,214 rows) as ProPublica's R code does.

    ``keep_default_na=False`` keeps a literal ``N/A`` score text as text, as R's
    ``read.csv`` does, so the filter below can see it.
    """
    return pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)


def propublica_filter(frame: pd.DataFrame) -> pd.DataFrame:
    """ProPublica's row filter of the two-year file (6,172 of 7,214 rows).

    ``days_b_screening_arrest`` within ±30 days (a missing value fails the test, as in
    dplyr), ``is_recid != -1``, ``c_charge_degree != 'O'`` and ``score_text != 'N/A'``.
    """
    days = pd.to_numeric(frame["days_b_screening_arrest"], errors="coerce")
    keep = (
        days.between(-30, 30)
        & (pd.to_numeric(frame["is_recid"], errors="coerce") != -1)
        & (frame["c_charge_degree"] != "O")
        & (frame["score_text"] != "N/A")
    )
    return frame.loc[keep].reset_index(drop=True)


def error_rates_by_race(frame: pd.DataFrame, *, races: tuple[str, ...] = ("African-American", "Caucasian")) -> pd.DataFrame:
    """False-positive and false-negative rates (percent) by race, high risk = Medium or High.

    Returns one row per race with ``n, tn, fp, fn, tp, fpr, fnr``; computed with
    :func:`drift_pipeline.lib.fairness.group_rates`, the same code that monitors fairness.
    """
    scored = frame.assign(
        _high_risk=frame["score_text"].isin(["Medium", "High"]),
        _recid=pd.to_numeric(frame["two_year_recid"], errors="raise").astype(bool),
    )
    rates = group_rates(scored, protected=["race"], label="_recid", prediction="_high_risk", min_group_size=1)
    rates = rates.loc[rates["group"].isin(races)].set_index("group").loc[list(races)]
    out = rates[["n", "tn", "fp", "fn", "tp"]].copy()
    out["fpr"] = 100 * rates["fpr"]
    out["fnr"] = 100 * rates["fnr"]
    out.index.name = "race"
    return out
