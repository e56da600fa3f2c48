"""Plotly figures as plain JSON (the browser draws them with the bundled plotly.min.js)."""

from __future__ import annotations

from typing import Any

from egsu.web.i18n import KZ, Lang, _parse_time

PALETTE = {
    "consumption": "#1f6fb2",
    "generation": "#1b998b",
    "forecast": "#c28a00",
    "band": "rgba(194,138,0,0.18)",
    "estimated": "#8e6cc4",
    "edited": "#d97706",
    "suspect": "#c0392b",
    "missing": "#7f8c8d",
    "valid": "#1f6fb2",
}
QUALITY_SYMBOL = {
    "estimated": "diamond",
    "edited": "square",
    "suspect": "x",
    "missing": "circle-open",
}


def local_ts(value: Any) -> str | None:
    """A timestamp as Kazakhstan local time without offset (Plotly draws it as given)."""
    dt = _parse_time(value)
    return dt.astimezone(KZ).strftime("%Y-%m-%d %H:%M:%S") if dt else None


def layout(
    L: Lang, *, y_title: str = "", height: int = 320, stacked: bool = False
) -> dict[str, Any]:
    sep = ", " if L.code in ("ru", "kk") else ".,"
    return {
        "height": height,
        "margin": {"l": 64, "r": 16, "t": 12, "b": 40},
        "separators": sep,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {
            "family": "Inter, 'Segoe UI', Roboto, Arial, sans-serif",
            "size": 12,
            "color": "#1d2b3a",
        },
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "xaxis": {
            "type": "date",
            "tickformat": "%d.%m\n%H:%M",
            "hoverformat": "%d.%m.%Y %H:%M",
            "gridcolor": "#e6ebf1",
            "linecolor": "#c9d3de",
        },
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#e6ebf1",
            "zerolinecolor": "#c9d3de",
            "rangemode": "tozero",
            # "20 000", not "20k": SI letters are English on a Russian or Kazakh page
            "exponentformat": "none",
            "separatethousands": True,
        },
        "barmode": "stack" if stacked else "group",
    }


def line(name: str, xs: list[Any], ys: list[Any], color: str, **kw: Any) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": [local_ts(x) for x in xs],
        "y": ys,
        "line": {"color": color, "width": 2},
        **kw,
    }


def bars(name: str, xs: list[Any], ys: list[Any], color: str, **kw: Any) -> dict[str, Any]:
    return {
        "type": "bar",
        "name": name,
        "x": [local_ts(x) for x in xs],
        "y": ys,
        "marker": {"color": color},
        **kw,
    }


def figure(traces: list[dict[str, Any]], lay: dict[str, Any]) -> dict[str, Any]:
    return {"data": traces, "layout": lay}
