"""The weekly report's charts: inline SVG drawn on the server (no scripts), as the member's mood chart.

Each chart has a <title> and a <desc> (its accessible name and summary) and is shown beside a table
holding the same numbers, which is its text alternative. The drawing is 340 units wide, about the
width it gets on a 390 px phone, so its 13-unit labels are never drawn smaller than 12 px there.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from checkin.reports.weekly import WeekFigures

WIDTH, HEIGHT = 340, 210
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 14, 48
FONT = 13
INK, GRID, SENT, ANSWERED, LINE = "#3f4756", "#e3e7ee", "#9db8e3", "#1f5fbf", "#1f5fbf"


def _label(week: WeekFigures) -> str:
    return f"{week.week.monday:%b} {week.week.monday.day}"


def _open(chart_id: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart report-chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _x_labels(weeks: list[WeekFigures], x) -> list[str]:
    """Week labels under the plot, every other one when eight would not fit."""
    step = 1 if len(weeks) <= 4 else 2
    parts = []
    for i, week in enumerate(weeks):
        if (len(weeks) - 1 - i) % step:
            continue  # keep the chosen (last) week labelled
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="{FONT}" '
            f'fill="{INK}">{escape(_label(week))}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="{FONT}" fill="{INK}">Weeks starting Monday</text>'
    )
    return parts


def checkins_chart(weeks: list[WeekFigures]) -> Markup:
    """Prompts sent and answered per week, as pairs of bars."""
    if not any(w.sent for w in weeks):
        return Markup('<p class="muted">No check-ins were sent in these weeks.</p>')
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(w.sent for w in weeks)
    slot = plot_w / len(weeks)

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y(n: float) -> float:
        return TOP + plot_h - n / top * plot_h

    chosen = weeks[-1]
    rate = f"{chosen.reply_rate:.0%}" if chosen.reply_rate is not None else "none sent"
    parts = _open(
        "chart-checkins",
        f"Check-ins sent and answered, {len(weeks)} weeks",
        f"Pale bars: prompts sent; dark bars: answered. Week of {_label(chosen)}: "
        f"{chosen.sent} sent, {chosen.answered} answered ({rate}). The table below has every week.",
    )
    for n in sorted({0, top, (top + 1) // 2}):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(n):.1f}" y2="{y(n):.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y(n) + 4:.1f}" text-anchor="end" font-size="{FONT}" fill="{INK}">{n}</text>'
        )
    bar = min(slot * 0.36, 18)
    for i, week in enumerate(weeks):
        for offset, value, colour in ((-bar, week.sent, SENT), (0, week.answered, ANSWERED)):
            if value:
                parts.append(
                    f'<rect x="{x(i) + offset:.1f}" y="{y(value):.1f}" width="{bar:.1f}" '
                    f'height="{y(0) - y(value):.1f}" fill="{colour}"/>'
                )
    parts += _x_labels(weeks, x)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in the SVG is a number or escaped


def score_chart(weeks: list[WeekFigures]) -> Markup:
    """The mean check-in score per week (1-5, higher is better), as a line; weeks without scores are gaps."""
    if not any(w.scores for w in weeks):
        return Markup('<p class="muted">No check-in scores in these weeks.</p>')
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(weeks)

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y(score: float) -> float:
        return TOP + (5 - score) / 4 * plot_h

    chosen = weeks[-1]
    mean = f"{chosen.mean_score:.1f}" if chosen.mean_score is not None else "no scores"
    parts = _open(
        "chart-score",
        f"Mean check-in score, {len(weeks)} weeks",
        f"From 1 (very low) to 5 (very good); higher is better. Week of {_label(chosen)}: {mean}. "
        "The table below has every week.",
    )
    for score in range(1, 6):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(score):.1f}" y2="{y(score):.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y(score) + 4:.1f}" text-anchor="end" font-size="{FONT}" fill="{INK}">{score}</text>'
        )
    run: list[str] = []
    for i, week in enumerate(weeks):
        if week.mean_score is None:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE}" stroke-width="2"/>'
                )
            run = []
            continue
        point = f"{x(i):.1f},{y(week.mean_score):.1f}"
        run.append(point)
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(week.mean_score):.1f}" r="4" fill="{LINE}"/>')
    if len(run) > 1:
        parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    parts += _x_labels(weeks, x)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in the SVG is a number or escaped
