"""Plots people would rather look at than read (SPEC §8), one per model over every stored partition.

Each plot is a *collect* function that reads the stored partition results into a tidy frame
(the numbers behind the picture: exported as CSV and unit-tested) and a *render* function that
draws that frame into PNG bytes. Rendering uses matplotlib's Agg canvas directly (no pyplot
global state), a fixed size, DPI and style, and PNG metadata without the software version, so
the same data always gives byte-identical files.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from drift_pipeline.lib.config import Band, ModelConfig, Policy
from drift_pipeline.lib.policy import classify
from drift_pipeline.lib.results import UNPARTITIONED, ResultStore

DPI = 100
SEVERITY_COLOURS = {"INFO": "#dcebd5", "WARNING": "#f2a93b", "CRITICAL": "#c62828", "BLOCKED": "#9e9e9e"}
SEVERITY_ORDER = ("INFO", "WARNING", "CRITICAL", "BLOCKED")
LINE = "#1f4e79"
FAMILIES = ("validation", "data", "model", "fairness", "explanation", "composite")
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "figure.titlesize": 12, "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
    "path.simplify": False,
}
MODEL_METRICS = {
    "composite_score": "composite health score (0 = healthy, 1 = every family at CRITICAL)",
    "accuracy_drop": "accuracy drop vs baseline (fraction, baseline − current)",
    "prediction_distribution_shift": "prediction distribution shift (total variation, 0–1)",
    "output_entropy_change": "output entropy change (relative to baseline)",
}
Z95 = 1.959963984540054


# --------------------------------------------------------------------------- reading results


def stored_partitions(store: ResultStore, model: str, asset: str) -> list[str]:
    """Partition keys with a stored JSON result of ``<model>/<asset>``, sorted."""
    folder = store.root / model / asset
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith(".") and p.stem != UNPARTITIONED)


def feature_drift_history(store: ResultStore, model: str) -> pd.DataFrame:
    """One row per partition × feature: ``partition, feature, psi, severity, metric, value``.

    A partition that validation blocked has one row per known feature with severity ``BLOCKED``.
    """
    columns = ["partition", "feature", "psi", "severity", "metric", "value"]
    frames, blocked = [], []
    for key in stored_partitions(store, model, "feature_drift"):
        if store.read_json(model, "feature_drift", key).get("status") != "ok":
            blocked.append(key)
            continue
        table = pd.read_parquet(store.path(model, "feature_drift", key, "parquet"),
                                columns=["feature", "psi", "severity", "metric", "value"])
        frames.append(table.assign(partition=key))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    features = list(dict.fromkeys(data["feature"]))
    if blocked and features:
        data = pd.concat([data, pd.DataFrame([{"partition": k, "feature": f, "psi": np.nan, "severity": "BLOCKED",
                                               "metric": None, "value": np.nan} for k in blocked for f in features])],
                         ignore_index=True)
    data = data[columns].astype({"psi": "float64", "value": "float64"})
    order = {f: i for i, f in enumerate(features)}
    return data.sort_values(["partition", "feature"], key=lambda s: s.map(order) if s.name == "feature" else s,
                            kind="stable", ignore_index=True)


def composite_band(policy: Policy) -> Band:
    """The composite score's bands as a :class:`Band` (``> warning_above``, ``> critical_above``)."""
    return Band.model_validate({"warning": f"> {policy.composite.warning_above}",
                                "critical": f"> {policy.composite.critical_above}"})


def metric_bands(policy: Policy) -> dict[str, Band]:
    """The band that judges each metric of the trend plot."""
    return {"composite_score": composite_band(policy),
            **{m: policy.band("model", m) for m in MODEL_METRICS if m != "composite_score"}}


def metric_history(store: ResultStore, model: str, policy: Policy) -> pd.DataFrame:
    """One row per partition × metric: ``partition, metric, value, severity`` (composite and model metrics)."""
    bands = metric_bands(policy)
    rows = []
    for key in stored_partitions(store, model, "model_health"):
        health = store.read_json(model, "model_health", key)
        performance = store.read_json_or_empty(model, "model_performance", key)
        values = {"composite_score": health.get("composite") if health.get("status") == "ok" else None,
                  **{m: performance.get(m) for m in MODEL_METRICS if m != "composite_score"}}
        for metric, value in values.items():
            value = np.nan if value is None else float(value)
            rows.append({"partition": key, "metric": metric, "value": value,
                         "severity": classify(None if math.isnan(value) else value, bands[metric]).name})
    return pd.DataFrame(rows, columns=["partition", "metric", "value", "severity"])


def wilson_interval(successes: np.ndarray, n: np.ndarray, *, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (Wilson, 1927), NaN where ``n == 0``.

    ``(p̂ + z²/2n ± z √(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`` with ``p̂ = successes / n``.
    """
    successes, n = np.asarray(successes, dtype="float64"), np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return np.where(n > 0, centre - half, np.nan), np.where(n > 0, centre + half, np.nan)


FAIRNESS_PANELS = {
    "disparate_impact_ratio": "disparate impact ratio",
    "selection_rate": "selection rate by group",
    "tpr": "true positive rate by group",
}
FAIRNESS_UNITS = {
    "disparate_impact_ratio": "lowest / highest selection rate",
    "selection_rate": "share predicted positive",
    "tpr": "share of actual positives predicted positive",
}
# Group colours avoid the severity colours (amber, red) so a group never reads as a band.
GROUP_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def fairness_history(store: ResultStore, model: str) -> pd.DataFrame:
    """One row per partition × attribute × series: ``partition, attribute, panel, series, value, ci_low, ci_high, n``.

    Panels: ``disparate_impact_ratio`` (series = the ratio, bootstrap 95 % interval from
    ``fairness_metrics``) and per group ``selection_rate`` and ``tpr`` (series = group, Wilson
    95 % interval; groups below the minimum group size are left out, as the metrics do).
    """
    rows = []
    for key in stored_partitions(store, model, "fairness_metrics"):
        record = store.read_json(model, "fairness_metrics", key)
        if record.get("status") != "ok":
            continue
        for row in record["drift"]:
            if row["metric"] == "disparate_impact_ratio":
                rows.append({"partition": key, "attribute": row["attribute"], "panel": "disparate_impact_ratio",
                             "series": "ratio", "value": row["value"], "ci_low": row.get("ci_low"),
                             "ci_high": row.get("ci_high"), "n": None})
        groups = pd.DataFrame(record["groups"])
        if groups.empty:
            continue
        groups = groups[groups["included"]]
        positives = groups["tp"] + groups["fn"]
        for panel, successes, n in (("selection_rate", (groups["selection_rate"] * groups["n"]).round(), groups["n"]),
                                    ("tpr", groups["tp"], positives)):
            low, high = wilson_interval(successes.to_numpy(), n.to_numpy())
            for (_, g), value, lo, hi, size in zip(groups.iterrows(), groups[panel], low, high, n, strict=True):
                rows.append({"partition": key, "attribute": g["attribute"], "panel": panel, "series": str(g["group"]),
                             "value": value, "ci_low": lo, "ci_high": hi, "n": int(size)})
    columns = ["partition", "attribute", "panel", "series", "value", "ci_low", "ci_high", "n"]
    data = pd.DataFrame(rows, columns=columns)
    return data.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64", "n": "Int64"})


def shap_history(store: ResultStore, model: str) -> pd.DataFrame:
    """One row per explained partition × feature: reference and current mean |SHAP|, and the day's Spearman."""
    rows = []
    for key in stored_partitions(store, model, "explanation_drift"):
        record = store.read_json(model, "explanation_drift", key)
        if record.get("status") != "ok":
            continue
        for item in record.get("importance", []):
            rows.append({"partition": key, "feature": item["feature"],
                         "reference_mean_abs_shap": item["reference_mean_abs_shap"],
                         "current_mean_abs_shap": item["current_mean_abs_shap"], "spearman": record.get("spearman")})
    columns = ["partition", "feature", "reference_mean_abs_shap", "current_mean_abs_shap", "spearman"]
    return pd.DataFrame(rows, columns=columns).astype({c: "float64" for c in columns[2:]})


def alert_history(store: ResultStore, model: str) -> pd.DataFrame:
    """One row per recorded alert: ``partition, family, metric, feature, severity, value`` (validation alerts CRITICAL)."""
    rows = []
    for key in stored_partitions(store, model, "drift_alerts"):
        record = store.read_json(model, "drift_alerts", key)
        for alert in record.get("alerts", []):
            rows.append({"partition": key, "family": alert["family"], "metric": alert["metric"],
                         "feature": alert.get("feature") or "", "severity": alert["severity"],
                         "value": alert.get("value")})
        for _ in record.get("validation_alert_ids", []):
            rows.append({"partition": key, "family": "validation", "metric": "failed_expectations", "feature": "",
                         "severity": "CRITICAL", "value": None})
    columns = ["partition", "family", "metric", "feature", "severity", "value"]
    return pd.DataFrame(rows, columns=columns).astype({"value": "float64"})


# --------------------------------------------------------------------------- drawing helpers


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG; no ``Software`` tag, so bytes depend only on what is drawn."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _dates(partitions: pd.Series) -> pd.Series:
    return pd.to_datetime(partitions)


def _date_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _empty(figure: Figure, message: str) -> None:
    ax = figure.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555")


def _shade_bands(ax, band: Band, low: float, high: float) -> None:
    """Shade the WARNING and CRITICAL regions of ``band`` between the axis limits ``low`` and ``high``."""
    warning, critical = band.warning.value, band.critical.value
    if band.higher_is_worse:
        ax.axhspan(warning, critical, color=SEVERITY_COLOURS["WARNING"], alpha=0.22, lw=0)
        ax.axhspan(critical, max(high, critical), color=SEVERITY_COLOURS["CRITICAL"], alpha=0.16, lw=0)
    else:
        ax.axhspan(critical, warning, color=SEVERITY_COLOURS["WARNING"], alpha=0.22, lw=0)
        ax.axhspan(min(low, critical), critical, color=SEVERITY_COLOURS["CRITICAL"], alpha=0.16, lw=0)
    ax.set_ylim(low, high)


def _limits(values: pd.Series, band: Band, *, floor: float | None = None) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo = min([band.critical.value, band.warning.value] + ([finite.min()] if len(finite) else []))
    hi = max([band.critical.value, band.warning.value] + ([finite.max()] if len(finite) else []))
    pad = 0.15 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    if floor is not None:
        lo = max(lo, floor) if (not len(finite) or finite.min() >= floor) else lo
    return lo, hi


def _band_handles(band: Band | None = None) -> list:
    suffix = (f" ({band.warning})", f" ({band.critical})") if band else ("", "")
    return [Patch(color=SEVERITY_COLOURS["WARNING"], alpha=0.5, label="WARNING band" + suffix[0]),
            Patch(color=SEVERITY_COLOURS["CRITICAL"], alpha=0.4, label="CRITICAL band" + suffix[1])]


def _severity_points(ax, x, values, severities) -> None:
    """Markers coloured by severity on top of a trend line (INFO points in the line's colour)."""
    for severity in ("INFO", "WARNING", "CRITICAL"):
        mask = (severities == severity).to_numpy()
        if mask.any():
            ax.scatter(x[mask], values[mask], s=16, zorder=3, edgecolors="black", linewidths=0.4,
                       color=LINE if severity == "INFO" else SEVERITY_COLOURS[severity])


# --------------------------------------------------------------------------- renderers


def render_feature_drift_heatmap(data: pd.DataFrame, *, model: str) -> bytes:
    """Feature × partition grid; colour = the feature's severity that day, number = its PSI (short ranges)."""
    features = list(dict.fromkeys(data["feature"]))
    partitions = sorted(data["partition"].unique())
    figure = _figure(11, 1.6 + 0.36 * max(len(features), 3))
    with matplotlib.rc_context(STYLE):
        if data.empty:
            _empty(figure, f"{model}: no feature_drift partitions stored yet")
            return png_bytes(figure)
        codes = data.assign(code=data["severity"].map({s: i for i, s in enumerate(SEVERITY_ORDER)}))
        grid = codes.pivot(index="feature", columns="partition", values="code").reindex(index=features,
                                                                                       columns=partitions)
        psi = data.pivot(index="feature", columns="partition", values="psi").reindex(index=features, columns=partitions)
        ax = figure.add_subplot()
        cmap = ListedColormap([SEVERITY_COLOURS[s] for s in SEVERITY_ORDER]).with_extremes(bad="white")
        ax.imshow(np.ma.masked_invalid(grid.to_numpy(dtype="float64")), aspect="auto", interpolation="nearest",
                  cmap=cmap, norm=BoundaryNorm(np.arange(-0.5, len(SEVERITY_ORDER)), cmap.N))
        if len(partitions) <= 31:
            for (i, j), value in np.ndenumerate(psi.to_numpy()):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6.5,
                            color="white" if grid.iat[i, j] == SEVERITY_ORDER.index("CRITICAL") else "black")
        step = max(1, math.ceil(len(partitions) / 14))
        ticks = list(range(0, len(partitions), step))
        ax.set_xticks(ticks, [partitions[t] for t in ticks], rotation=45, ha="right")
        ax.set_yticks(range(len(features)), features)
        ax.grid(False)
        ax.set_xlabel("partition (day)")
        ax.set_ylabel("feature")
        ax.set_title(f"{model}: feature drift by day — colour = severity (policy verdict)"
                     + (", number = PSI" if len(partitions) <= 31 else "; PSI values in the CSV"), loc="left")
        figure.legend(handles=[Patch(color=SEVERITY_COLOURS[s], label=s.lower() if s == "BLOCKED" else s)
                               for s in SEVERITY_ORDER], loc="outside right upper", title="severity")
        return png_bytes(figure)


def render_metric_trends(data: pd.DataFrame, *, model: str, policy: Policy) -> bytes:
    """One panel per metric over time, with the policy's WARNING and CRITICAL bands shaded."""
    figure = _figure(12, 6.5)
    with matplotlib.rc_context(STYLE):
        if data.empty:
            _empty(figure, f"{model}: no model_health partitions stored yet")
            return png_bytes(figure)
        bands = metric_bands(policy)
        axes = figure.subplots(2, 2, sharex=True).ravel()
        for ax, (metric, label) in zip(axes, MODEL_METRICS.items(), strict=True):
            rows = data[data["metric"] == metric].sort_values("partition")
            x, values = _dates(rows["partition"]).to_numpy(), rows["value"].to_numpy()
            band = bands[metric]
            _shade_bands(ax, band, *_limits(rows["value"], band))
            ax.plot(x, values, color=LINE, lw=1.2, label=metric)
            _severity_points(ax, x, values, rows["severity"].reset_index(drop=True))
            ax.set_title(f"{label}\nWARNING {band.warning} · CRITICAL {band.critical}", loc="left")
            ax.set_ylabel("value")
            _date_axis(ax)
            if not np.isfinite(values).any():
                ax.text(0.5, 0.5, "not evaluated (labels pending?)", transform=ax.transAxes, ha="center",
                        color="#555555")
        figure.suptitle(f"{model}: health and model-drift metrics by partition")
        point = [Line2D([], [], color=LINE, marker="o", ms=4, label="value (marker colour = severity)")]
        figure.legend(handles=point + _band_handles(), loc="outside lower center", ncols=3)
        return png_bytes(figure)


def render_fairness_over_time(data: pd.DataFrame, *, model: str, policy: Policy) -> bytes:
    """Per protected attribute: disparate impact ratio with its interval and bands, and per-group rates with Wilson bands."""
    attributes = list(dict.fromkeys(data["attribute"]))
    figure = _figure(14, 1.2 + 3.2 * max(len(attributes), 1))
    with matplotlib.rc_context(STYLE):
        if data.empty:
            _empty(figure, f"{model}: no fairness_metrics partitions stored yet")
            return png_bytes(figure)
        axes = figure.subplots(len(attributes), len(FAIRNESS_PANELS), sharex=True, squeeze=False)
        band = policy.band("fairness", "disparate_impact_ratio", model=model)
        groups = sorted(data.loc[data["panel"] != "disparate_impact_ratio", "series"].unique())
        colours = {g: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, g in enumerate(groups)}
        for row_axes, attribute in zip(axes, attributes, strict=True):
            for ax, (panel, label) in zip(row_axes, FAIRNESS_PANELS.items(), strict=True):
                rows = data[(data["attribute"] == attribute) & (data["panel"] == panel)]
                for series, part in rows.groupby("series", sort=True):
                    part = part.sort_values("partition")
                    x = _dates(part["partition"]).to_numpy()
                    colour = LINE if panel == "disparate_impact_ratio" else colours[series]
                    ax.plot(x, part["value"].to_numpy(), color=colour, lw=1.2, marker="o", ms=2.5,
                            label=series if panel != "disparate_impact_ratio" else "ratio")
                    ax.fill_between(x, part["ci_low"].to_numpy(), part["ci_high"].to_numpy(), color=colour,
                                    alpha=0.15, lw=0)
                if panel == "disparate_impact_ratio":
                    high = max(1.05, float(np.nanmax(rows["ci_high"].to_numpy(dtype="float64"), initial=1.0)) + 0.05)
                    _shade_bands(ax, band, 0.0, high)
                else:
                    ax.set_ylim(0, 1)
                ax.set_title(f"{attribute} · {label}", loc="left")
                ax.set_ylabel(FAIRNESS_UNITS[panel])
                _date_axis(ax)
        figure.suptitle(f"{model}: fairness by partition — shaded = 95 % interval "
                        "(bootstrap for the ratio, Wilson for group rates)")
        handles = [Line2D([], [], color=colours[g], lw=2, label=g) for g in groups]
        handles += [Line2D([], [], color=LINE, lw=2, label="disparate impact ratio")]
        figure.legend(handles=handles + _band_handles(band), loc="outside right upper", title="group / band")
        return png_bytes(figure)


def render_shap_importance(data: pd.DataFrame, *, model: str, policy: Policy, top: int = 8) -> bytes:
    """Mean |SHAP| of the most important features per explained partition, and the rank correlation with bands."""
    figure = _figure(12, 7)
    with matplotlib.rc_context(STYLE):
        if data.empty:
            _empty(figure, f"{model}: no explanation partitions yet (explanations run at the risk level's cadence)")
            return png_bytes(figure)
        importance, correlation = figure.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
        ranking = data.groupby("feature")["reference_mean_abs_shap"].max().sort_values(ascending=False, kind="stable")
        shown = list(ranking.index[:top])
        for i, feature in enumerate(shown):
            part = data[data["feature"] == feature].sort_values("partition")
            x = _dates(part["partition"]).to_numpy()
            colour = matplotlib.colormaps["tab10"](i % 10)
            importance.plot(x, part["current_mean_abs_shap"].to_numpy(), color=colour, marker="o", ms=3.5, lw=1.3,
                            label=feature)
            importance.plot(x, part["reference_mean_abs_shap"].to_numpy(), color=colour, ls="--", lw=0.9, alpha=0.7)
        importance.set_ylabel("mean |SHAP value| (model output units)")
        importance.set_title(f"mean |SHAP| per feature (top {len(shown)} by reference importance); "
                             "solid = partition, dashed = reference", loc="left")
        days = data.drop_duplicates("partition").sort_values("partition")
        band = policy.band("explanation", "shap_rank_correlation", model=model)
        x, rho = _dates(days["partition"]).to_numpy(), days["spearman"].to_numpy()
        _shade_bands(correlation, band, min(0.0, float(np.nanmin(rho, initial=0.0))) - 0.05, 1.05)
        correlation.plot(x, rho, color=LINE, lw=1.2)
        severities = pd.Series([classify(None if not np.isfinite(r) else r, band).name for r in rho])
        _severity_points(correlation, x, rho, severities)
        correlation.set_ylabel("Spearman ρ")
        correlation.set_title(f"rank correlation of importances with the reference "
                              f"(WARNING {band.warning} · CRITICAL {band.critical})", loc="left")
        _date_axis(correlation)
        figure.suptitle(f"{model}: SHAP importance over time")
        handles = importance.get_legend_handles_labels()[0]
        figure.legend(handles=handles + _band_handles(band), loc="outside right upper", title="feature / band")
        return png_bytes(figure)


def render_alert_timeline(data: pd.DataFrame, *, model: str, partitions: list[str] | None = None) -> bytes:
    """Daily WARNING / CRITICAL counts and, per signal family, the worst severity of each day."""
    figure = _figure(12, 6)
    with matplotlib.rc_context(STYLE):
        counts_ax, family_ax = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1.4])
        days = sorted(set(partitions or []) | set(data["partition"]))
        if days:
            x_all = _dates(pd.Series(days))
            family_ax.set_xlim(x_all.min() - pd.Timedelta(days=1), x_all.max() + pd.Timedelta(days=1))
        per_day = (data.groupby(["partition", "severity"]).size().unstack(fill_value=0)
                   .reindex(columns=["WARNING", "CRITICAL"], fill_value=0))
        bottom = np.zeros(len(per_day))
        x = _dates(per_day.index.to_series()).to_numpy()
        for severity in ("WARNING", "CRITICAL"):
            counts_ax.bar(x, per_day[severity].to_numpy(), bottom=bottom, width=0.8,
                          color=SEVERITY_COLOURS[severity], label=severity)
            bottom = bottom + per_day[severity].to_numpy()
        counts_ax.set_ylabel("alerts per day")
        counts_ax.set_title("alerts recorded in the audit store, per day", loc="left")
        families = [f for f in FAMILIES if f in set(data["family"])] or list(FAMILIES[1:5])
        rank = {"WARNING": 1, "CRITICAL": 2}
        worst = (data.assign(rank=data["severity"].map(rank)).groupby(["partition", "family"])
                 .agg(rank=("rank", "max"), n=("rank", "size")).reset_index())
        for severity, r in rank.items():
            part = worst[worst["rank"] == r]
            family_ax.scatter(_dates(part["partition"]).to_numpy(), part["family"].map(families.index).to_numpy(),
                              s=(18 + 10 * np.minimum(part["n"].to_numpy(), 8)), color=SEVERITY_COLOURS[severity],
                              edgecolors="black", linewidths=0.3, zorder=3)
        family_ax.set_yticks(range(len(families)), families)
        family_ax.set_ylim(-0.6, len(families) - 0.4)
        family_ax.invert_yaxis()
        family_ax.set_ylabel("signal family")
        family_ax.set_title("worst severity per family and day (marker size = number of alerts)", loc="left")
        _date_axis(family_ax)
        if data.empty:
            counts_ax.text(0.5, 0.5, "no WARNING or CRITICAL alert recorded", transform=counts_ax.transAxes,
                           ha="center", color="#555555")
        figure.suptitle(f"{model}: alert timeline by severity")
        figure.legend(handles=[Patch(color=SEVERITY_COLOURS[s], label=s) for s in ("WARNING", "CRITICAL")],
                      loc="outside right upper", title="severity")
        return png_bytes(figure)


# --------------------------------------------------------------------------- compact tables for metadata


def _heatmap_summary(data: pd.DataFrame) -> pd.DataFrame:
    computed = data[data["severity"] != "BLOCKED"].sort_values("partition")
    if computed.empty:
        return pd.DataFrame(columns=["feature"])
    grouped = computed.groupby("feature", sort=False)
    return pd.DataFrame({
        "partitions": grouped.size(),
        "days_warning": grouped["severity"].apply(lambda s: int((s == "WARNING").sum())),
        "days_critical": grouped["severity"].apply(lambda s: int((s == "CRITICAL").sum())),
        "max_psi": grouped["psi"].max(),
        "latest_psi": grouped["psi"].last(),
        "latest_severity": grouped["severity"].last(),
    }).reset_index()


def _trend_summary(data: pd.DataFrame) -> pd.DataFrame:
    ordered = data.sort_values("partition")
    grouped = ordered.groupby("metric", sort=False)
    return pd.DataFrame({
        "latest": grouped["value"].last(), "min": grouped["value"].min(), "max": grouped["value"].max(),
        "days_warning": grouped["severity"].apply(lambda s: int((s == "WARNING").sum())),
        "days_critical": grouped["severity"].apply(lambda s: int((s == "CRITICAL").sum())),
    }).reset_index()


def _latest(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if data.empty:
        return data[columns]
    return data[data["partition"] == data["partition"].max()][columns].reset_index(drop=True)


def _alert_summary(data: pd.DataFrame) -> pd.DataFrame:
    if data.empty:
        return pd.DataFrame(columns=["family", "WARNING", "CRITICAL", "first", "last"])
    counts = data.groupby(["family", "severity"]).size().unstack(fill_value=0).reindex(
        columns=["WARNING", "CRITICAL"], fill_value=0)
    span = data.groupby("family")["partition"].agg(first="min", last="max")
    return counts.join(span).reset_index()


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class PlotKind:
    """One plot: how to collect its data, draw it, and summarise it for a metadata table."""

    name: str
    title: str
    collect: Callable[[ResultStore, ModelConfig, Policy], pd.DataFrame]
    render: Callable[[pd.DataFrame, ModelConfig, Policy, ResultStore], bytes]
    summary: Callable[[pd.DataFrame], pd.DataFrame]
    needs_protected: bool = False


PLOTS: dict[str, PlotKind] = {p.name: p for p in (
    PlotKind("feature_drift_heatmap", "Feature × day drift heatmap (PSI, severity)",
             lambda s, c, p: feature_drift_history(s, c.name),
             lambda d, c, p, s: render_feature_drift_heatmap(d, model=c.name), _heatmap_summary),
    PlotKind("metric_trends", "Health and model-drift metrics with policy bands",
             lambda s, c, p: metric_history(s, c.name, p),
             lambda d, c, p, s: render_metric_trends(d, model=c.name, policy=p), _trend_summary),
    PlotKind("fairness_over_time", "Fairness per group over time with 95 % intervals",
             lambda s, c, p: fairness_history(s, c.name),
             lambda d, c, p, s: render_fairness_over_time(d, model=c.name, policy=p),
             lambda d: _latest(d, ["partition", "attribute", "panel", "series", "value", "ci_low", "ci_high", "n"]),
             needs_protected=True),
    PlotKind("shap_importance_over_time", "SHAP importance over time and its rank correlation",
             lambda s, c, p: shap_history(s, c.name),
             lambda d, c, p, s: render_shap_importance(d, model=c.name, policy=p),
             lambda d: _latest(d, ["partition", "feature", "reference_mean_abs_shap", "current_mean_abs_shap",
                                   "spearman"])),
    PlotKind("alert_timeline", "Alert timeline by severity",
             lambda s, c, p: alert_history(s, c.name),
             lambda d, c, p, s: render_alert_timeline(d, model=c.name,
                                                      partitions=stored_partitions(s, c.name, "drift_alerts")),
             _alert_summary),
)}


def plots_for(config: ModelConfig) -> list[PlotKind]:
    """The plots that apply to a model (fairness only with protected attributes)."""
    return [p for p in PLOTS.values() if not p.needs_protected or config.protected_columns]


def plots_dir(reports_root: Path, model: str) -> Path:
    return Path(reports_root) / model / "plots"


@dataclass(frozen=True)
class RenderedPlot:
    """A plot written to disk: the PNG, the CSV of the data behind it, and that data."""

    name: str
    title: str
    png_path: Path
    csv_path: Path
    png: bytes
    data: pd.DataFrame
    summary: pd.DataFrame

    @property
    def partitions(self) -> int:
        return int(self.data["partition"].nunique()) if "partition" in self.data else 0


def _atomic_write(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    tmp.replace(path)


def write_plot(kind: PlotKind, store: ResultStore, config: ModelConfig, policy: Policy,
               reports_root: Path) -> RenderedPlot:
    """Collect, render and write one plot to ``<reports_root>/<model>/plots/<name>.png`` (+ ``.csv``)."""
    data = kind.collect(store, config, policy)
    png = kind.render(data, config, policy, store)
    folder = plots_dir(reports_root, config.name)
    png_path, csv_path = folder / f"{kind.name}.png", folder / f"{kind.name}.csv"
    _atomic_write(png_path, png)
    _atomic_write(csv_path, data.to_csv(index=False, float_format="%.6g").encode())
    return RenderedPlot(kind.name, kind.title, png_path, csv_path, png, data, kind.summary(data))
