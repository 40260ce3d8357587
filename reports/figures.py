"""One figure per scenario, in the spirit of Jepsen's plots: every panel shares the scenario's time axis.

    requests/s, stacked by answer mode (+ errors)   ┐
    latency p50/p95/p99 + time to first token (log) │  fault windows shaded and labelled across all panels;
    error rate                                      │  a failed verdict is a red line at its ``at``,
    one lane per breaker (closed/open/half-open)    │  annotated with expected vs observed
    one lane per alert (pending/firing), if any     │
    system mode band                                ┘

Figures are built on ``Figure`` + ``FigureCanvasAgg`` rather than pyplot, so rendering holds no global
state and needs no display. Input is a scenario dict as written by ``ScenarioResult.to_json``.
"""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

# Modes the reference system reports get fixed colours, so one mode looks the same in every figure and run.
MODE_COLOURS: dict[str, str] = {
    "normal": "#2ca02c",
    "degraded-no-context": "#f0c419",
    "degraded-cache-only": "#ff7f0e",
    "static-only": "#9467bd",
    "error": "#d62728",
    "unknown": "#b0b0b0",
}
# Breaker lanes use a palette apart from the modes', so a lane is never mistaken for the mode band.
BREAKER_COLOURS: dict[str, str] = {"closed": "#c7e9c0", "half-open": "#6baed6", "open": "#a50f15"}
# Alert lanes: pending is a warning not yet sent, firing a page; nothing is drawn while inactive.
ALERT_COLOURS: dict[str, str] = {"pending": "#fdd0a2", "firing": "#e6550d"}
_UNKNOWN = "#b0b0b0"
# Other modes draw from this palette by a stable hash (crc32, not ``hash``, which is salted per process).
_PALETTE = ("#1f77b4", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#393b79", "#637939")
_FAULT_COLOUR = "#7f7f7f"
_FAILED = "#d62728"
_TTFT = "#e6550d"  # time to first token: apart from latency's blue
_PARTIAL = "#fdae6b"  # partial streamed answers, stacked on the red errors

WIDTH_IN = 11.0
DPI = 100


def mode_colour(mode: str | None) -> str:
    """The colour of a mode: fixed for known modes, otherwise stable across runs and processes."""
    key = mode or "unknown"
    if key in MODE_COLOURS:
        return MODE_COLOURS[key]
    return _PALETTE[zlib.crc32(key.encode()) % len(_PALETTE)]


def breaker_colour(state: str | None) -> str:
    return BREAKER_COLOURS.get(state or "", _UNKNOWN)


# Fault labels and questions can be Japanese (the reference corpus is bilingual). DejaVu Sans has no
# CJK glyphs, so a CJK font follows it in the fallback list (IPA Gothic is installed by
# scripts/setup.sh); on a machine without one the glyphs render as boxes, which is not worth a warning.
_CJK_FONTS = ("IPAGothic", "IPAexGothic", "Noto Sans CJK JP")


def _font_families() -> list[str]:
    """DejaVu Sans, then the CJK fonts this machine has (naming a missing one makes matplotlib log)."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in _CJK_FONTS if name in installed)]


def scenario_figure(scenario: Mapping[str, Any]) -> bytes:
    """The scenario's figure as PNG bytes."""
    with rc_context({"font.family": _font_families()}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        return _scenario_figure(scenario)


def _scenario_figure(scenario: Mapping[str, Any]) -> bytes:
    duration = max(float(scenario.get("duration_s") or 0.0), 1e-3)
    load: list[Mapping[str, Any]] = list(scenario.get("load") or [])
    timeline: list[Mapping[str, Any]] = list(scenario.get("timeline") or [])
    breakers = sorted({name for s in timeline for name in (s.get("breakers") or {})})
    alerts: list[Mapping[str, Any]] = list(scenario.get("alerts") or [])
    alert_names = sorted({str(a.get("name")) for a in alerts})

    ratios = [3.0, 2.2, 1.3] + [0.35] * len(breakers) + [0.3] * len(alert_names) + [0.45]
    fig = Figure(figsize=(WIDTH_IN, 1.2 + 1.1 * sum(ratios)), dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.12)
    top = fig.add_subplot(grid[0])
    axes = [top] + [fig.add_subplot(grid[i], sharex=top) for i in range(1, len(ratios))]
    rps, latency, errors, band = axes[0], axes[1], axes[2], axes[-1]
    lanes, alert_lanes = axes[3:3 + len(breakers)], axes[3 + len(breakers):-1]

    _requests(rps, load)
    _latency(latency, load)
    _time_to_first_token(latency, load)
    _error_rate(errors, load)
    _partial_rate(errors, load)
    for ax, name in zip(lanes, breakers, strict=True):
        _lane(ax, name, [(float(s["t"]), (s.get("breakers") or {}).get(name)) for s in timeline], duration,
              breaker_colour)
    for ax, name in zip(alert_lanes, alert_names, strict=True):
        _alert_lane(ax, name, [a for a in alerts if a.get("name") == name], duration)
    _lane(band, "mode", [(float(s["t"]), s.get("mode")) for s in timeline], duration, mode_colour)

    top.set_xlim(0.0, duration)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    band.set_xlabel("seconds since the scenario started")
    _faults(axes, scenario.get("faults") or [], duration)
    _failed_verdicts(axes, scenario.get("verdicts") or [], duration)
    _legends(rps, band, load, timeline, alerts=bool(alert_names))
    fig.suptitle(str(scenario.get("name", "")), fontsize=11, x=0.01, ha="left")
    fig.subplots_adjust(left=0.09, right=0.80, top=0.93, bottom=0.07)

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _modes_in(load: Sequence[Mapping[str, Any]]) -> list[str]:
    seen = {m for bucket in load for m in (bucket.get("modes") or {})}
    known = [m for m in MODE_COLOURS if m in seen]
    return known + sorted(seen - set(known))


def _requests(ax: Axes, load: Sequence[Mapping[str, Any]]) -> None:
    """Requests per second as bars stacked by the mode of each answer; failed requests count as ``error``."""
    ts = [float(b["t"]) for b in load]
    bottom = [0.0] * len(load)
    for mode in _modes_in(load):
        counts = [float((b.get("modes") or {}).get(mode, 0)) for b in load]
        ax.bar(ts, counts, width=1.0, align="edge", bottom=bottom, color=mode_colour(mode), linewidth=0)
        bottom = [a + c for a, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("requests/s")
    if not load:
        _empty(ax, "no load recorded")


def _latency(ax: Axes, load: Sequence[Mapping[str, Any]]) -> None:
    plotted = False
    for key, style in (("p50_s", "-"), ("p95_s", "--"), ("p99_s", ":")):
        points = [(float(b["t"]) + 0.5, float(b[key])) for b in load if b.get(key)]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, color="#1f77b4", marker=".", markersize=3, linewidth=1.2, label=key[:3])
            plotted = True
    ax.set_ylabel("latency (s)")
    if plotted:
        # Only with positive data: a log axis over nothing warns, and warnings are errors in the tests.
        ax.set_yscale("log")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    else:
        _empty(ax, "no answered requests")


def _time_to_first_token(ax: Axes, load: Sequence[Mapping[str, Any]]) -> None:
    """Streamed answers' time to first token (p50/p95) on the latency panel, in its own colour.

    On the same axis as latency because the two are read together: a TTFT that climbs while latency
    stays flat means the first token waits (a slow model), a gap between them that widens means slow
    tokens. Drawn only when the scenario streamed.
    """
    plotted = False
    for key, style in (("ttft_p50_s", "-"), ("ttft_p95_s", "--")):
        points = [(float(b["t"]) + 0.5, float(b[key])) for b in load if b.get(key)]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, color=_TTFT, marker=".", markersize=3, linewidth=1.2,
                    label=f"TTFT {key[5:8]}")
            plotted = True
    if plotted:
        ax.set_yscale("log")
        ax.set_ylabel("latency, TTFT (s)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _error_rate(ax: Axes, load: Sequence[Mapping[str, Any]]) -> None:
    ts = [float(b["t"]) for b in load]
    rates = [100.0 * float(b.get("errors") or 0) / float(b["requests"]) if b.get("requests") else 0.0 for b in load]
    ax.bar(ts, rates, width=1.0, align="edge", color=_FAILED, linewidth=0)
    ax.set_ylim(0.0, 105.0)
    ax.set_ylabel("errors %")


def _partial_rate(ax: Axes, load: Sequence[Mapping[str, Any]]) -> None:
    """Partial streamed answers (done said interrupted) stacked on the errors: answered, but not whole."""
    if not any(b.get("partial") for b in load):
        return
    ts = [float(b["t"]) for b in load]
    errors = [100.0 * float(b.get("errors") or 0) / float(b["requests"]) if b.get("requests") else 0.0 for b in load]
    partial = [100.0 * float(b.get("partial") or 0) / float(b["requests"]) if b.get("requests") else 0.0 for b in load]
    ax.bar(ts, partial, width=1.0, align="edge", bottom=errors, color=_PARTIAL, linewidth=0, label="partial streams")
    ax.set_ylabel("errors, partial %")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _lane(ax: Axes, label: str, samples: Sequence[tuple[float, Any]], duration: float,
          colour: Any) -> None:
    """A horizontal band coloured by state; each sample holds until the next one (runs merged)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    i = 0
    while i < len(samples):
        start, state = samples[i]
        j = i
        while j + 1 < len(samples) and samples[j + 1][1] == state:
            j += 1
        end = samples[j + 1][0] if j + 1 < len(samples) else duration
        spans.setdefault(colour(state), []).append((start, max(end - start, 0.0)))
        i = j + 1
    for c, bars in spans.items():
        ax.broken_barh(bars, (0.0, 1.0), facecolors=c, linewidth=0)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.5], [label], fontsize=8)
    ax.tick_params(axis="y", length=0)


def _alert_lane(ax: Axes, name: str, intervals: Sequence[Mapping[str, Any]], duration: float) -> None:
    """One alert's life: pending (pale) from ``pending_at``, firing (strong) from ``fired_at``, until
    ``resolved_at`` or the end; the firing moment is labelled with its time since the scenario start."""
    for interval in intervals:
        pending = interval.get("pending_at")
        fired, resolved = interval.get("fired_at"), interval.get("resolved_at")
        end = float(resolved) if resolved is not None else duration
        start = max(0.0, float(pending)) if pending is not None else (float(fired) if fired is not None else end)
        stop_pending = float(fired) if fired is not None else end
        ax.broken_barh([(start, max(stop_pending - start, 0.0))], (0.0, 1.0), facecolors=ALERT_COLOURS["pending"],
                       linewidth=0)
        if fired is not None:
            ax.broken_barh([(float(fired), max(end - float(fired), 0.0))], (0.0, 1.0),
                           facecolors=ALERT_COLOURS["firing"], linewidth=0)
            ax.text(float(fired), 0.5, f" fired at {float(fired):.1f}s", fontsize=7, va="center", ha="left",
                    color="white", clip_on=True, zorder=6)
    ax.set_ylim(0.0, 1.0)
    # Alert names are long: written inside the lane, not as a tick label the left margin would cut.
    ax.set_yticks([0.5], ["alert"], fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.text(0.003, 0.5, name, transform=ax.transAxes, fontsize=7, va="center", ha="left", color="#404040",
            zorder=6)


def _faults(axes: Sequence[Axes], faults: Sequence[Mapping[str, Any]], duration: float) -> None:
    for fault in faults:
        start = float(fault.get("start") or 0.0)
        end = float(fault["end"]) if fault.get("end") is not None else duration
        for ax in axes:
            ax.axvspan(start, end, color=_FAULT_COLOUR, alpha=0.18, linewidth=0, zorder=0)
            # Lanes are opaque, so the window's edges are drawn on top as well.
            for edge in (start, end):
                ax.axvline(edge, color="#404040", linestyle="--", linewidth=0.8, zorder=4)
        axes[0].text(start, 1.01, str(fault.get("label", "fault")), transform=axes[0].get_xaxis_transform(),
                     fontsize=8, va="bottom", ha="left", color="#404040", clip_on=False)


def _failed_verdicts(axes: Sequence[Axes], verdicts: Sequence[Mapping[str, Any]], duration: float) -> None:
    failed = [v for v in verdicts if not v.get("passed")]
    for n, verdict in enumerate(failed):
        at = float(verdict["at"]) if verdict.get("at") is not None else duration
        for ax in axes:
            ax.axvline(at, color=_FAILED, linewidth=1.5, zorder=5)
        text = f"failed: {_short(str(verdict.get('name', '')))}\nexpected {_short(str(verdict.get('expected')))}" \
               f"\nobserved {_short(str(verdict.get('observed')))}"
        # Late verdicts are labelled to the left of their line, so the label stays inside the plot.
        left = at > 0.55 * duration
        axes[0].annotate(text, xy=(at, 0.95 - 0.3 * (n % 3)), xycoords=axes[0].get_xaxis_transform(),
                         xytext=(-4 if left else 4, 0), textcoords="offset points", fontsize=7, color=_FAILED,
                         va="top", ha="right" if left else "left",
                         bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": _FAILED, "alpha": 0.85},
                         zorder=6)


def _legends(rps: Axes, band: Axes, load: Sequence[Mapping[str, Any]], timeline: Sequence[Mapping[str, Any]],
             alerts: bool = False) -> None:
    modes = _modes_in(load)
    for s in timeline:
        m = s.get("mode") or "unknown"
        if m not in modes:
            modes.append(m)
    handles = [Patch(color=mode_colour(m), label=m) for m in modes]
    handles += [Patch(color=c, label=f"breaker {s}") for s, c in BREAKER_COLOURS.items()]
    if alerts:
        handles += [Patch(color=c, label=f"alert {s}") for s, c in ALERT_COLOURS.items()]
    handles.append(Patch(color=_FAULT_COLOUR, alpha=0.3, label="fault window"))
    rps.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="#808080")


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
