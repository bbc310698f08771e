"""A group's weekly report: check-in prompts sent and answered, the mean score and its trend, members
who missed three or more check-ins in a row, and escalations by level with the time to acknowledge.

Weeks are ISO weeks (Monday 00:00 to the next Monday 00:00) in the group's own time zone, so a week
that spans a daylight-saving change is 167 or 169 hours long and a check-in late on Sunday evening
belongs to the week it was local Sunday in.

Counts are aggregated in the database (one GROUP BY over a CASE that buckets each row into its week).
Two figures cannot be: scores are encrypted at rest (checkin.checkins.CheckIn.score), so only the
scores of the weeks asked for are fetched and averaged here; and SQLite has no percentile function,
so the acknowledgement delays (seconds, computed in SQL) are fetched and their p50/p90 taken here.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from checkin import timezones
from checkin.checkins import ANSWER_WINDOW, CheckIn
from checkin.errors import ValidationError
from checkin.escalation.models import Escalation
from checkin.models import Group, GroupMember, Member

# Levels an escalation is opened at (checkin.escalation), most serious first; any other level found
# in the data is reported after these.
LEVELS = ("crisis", "urgent")
MISSED_RUN = 3  # this many missed check-ins in a row puts a member on the report
TREND_WEEKS = 8  # the weeks the page's charts and trend cover, ending with the chosen week
MAX_WEEKS = 53  # the most weeks one CSV export covers
STEADY = 0.05  # a trend smaller than this many score points a week is "steady"
SCORE_BETTER = "higher"  # scores run 1 (very low) to 5 (very good)


@dataclass(frozen=True)
class Week:
    """One local Monday-to-Sunday week of a group, with its bounds in UTC."""

    monday: date
    starts_at: datetime
    ends_at: datetime

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_of(timezone: str, monday: date) -> Week:
    zone = ZoneInfo(timezone)

    def start(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    monday = monday_of(monday)
    return Week(monday, start(monday), start(monday + timedelta(days=7)))


def local_monday(timezone: str, now: datetime) -> date:
    """The Monday of the week `now` falls in, in `timezone`."""
    return monday_of(now.astimezone(ZoneInfo(timezone)).date())


def weeks_between(timezone: str, first: date, last: date) -> list[Week]:
    """The weeks from the one holding `first` to the one holding `last`, oldest first."""
    first, last = monday_of(first), monday_of(last)
    if last < first:
        raise ValidationError(
            'the last week must not come before the first: the "To" week comes before the "From" week'
        )
    count = (last - first).days // 7 + 1
    if count > MAX_WEEKS:
        raise ValidationError(f"choose at most {MAX_WEEKS} weeks at a time (these are {count})")
    return [week_of(timezone, first + timedelta(weeks=i)) for i in range(count)]


@dataclass(frozen=True)
class LevelFigures:
    """Escalations of one level opened in a week, and how long they took to be acknowledged."""

    level: str
    opened: int
    acknowledged: int
    p50_seconds: float | None
    p90_seconds: float | None

    @property
    def not_acknowledged(self) -> int:
        """Opened that week and nobody has acknowledged them (yet, if still open)."""
        return self.opened - self.acknowledged


@dataclass(frozen=True)
class MissedRun:
    member_id: int
    name: str
    missed: int  # missed check-ins in a row up to the week's end


@dataclass
class WeekFigures:
    week: Week
    sent: int = 0  # check-in prompts sent to the group's members that week
    answered: int = 0  # of those, answered (that week or later)
    # Every score given that week in answer to this group's prompts. An answer nobody prompted has no
    # group (a member may be in several), so it is in no group's report.
    scores: list[int] = field(default_factory=list)
    escalations: list[LevelFigures] = field(default_factory=list)
    missed_runs: list[MissedRun] = field(default_factory=list)

    @property
    def reply_rate(self) -> float | None:
        """Answered / sent, 0-1; None when no prompt was sent that week."""
        return self.answered / self.sent if self.sent else None

    @property
    def mean_score(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def escalations_opened(self) -> int:
        return sum(level.opened for level in self.escalations)


@dataclass(frozen=True)
class Trend:
    """The mean score's direction over the weeks that have one: a least-squares slope in score
    points per week. Higher scores are better, so a rising trend is the good direction."""

    slope: float | None  # None with fewer than two weeks of scores
    weeks_with_scores: int

    @property
    def direction(self) -> str:
        if self.slope is None:
            return "unknown"
        if abs(self.slope) < STEADY:
            return "steady"
        return "rising" if self.slope > 0 else "falling"

    @property
    def words(self) -> str:
        if self.slope is None:
            return "Not enough weeks with scores to show a trend yet (two are needed)."
        per_week = f"{abs(self.slope):.2f} points a week"
        return {
            "steady": f"Steady over {self.weeks_with_scores} weeks with scores (higher is better).",
            "rising": f"Rising by {per_week} over {self.weeks_with_scores} weeks: getting better "
            "(higher is better).",
            "falling": f"Falling by {per_week} over {self.weeks_with_scores} weeks: getting worse "
            "(higher is better).",
        }[self.direction]


@dataclass
class GroupReport:
    group_id: int
    group_name: str
    timezone: str
    weeks: list[WeekFigures]  # oldest first; the last is the chosen week
    trend: Trend

    @property
    def chosen(self) -> WeekFigures:
        return self.weeks[-1]


def weekly_report(session: Session, group: Group, monday: date, weeks: int = TREND_WEEKS) -> GroupReport:
    """The report for the week holding `monday` (local), with the `weeks`-1 weeks before it for the trend.
    Members with missed runs are listed for the chosen week only."""
    last = monday_of(monday)
    span = weeks_between(group.timezone, last - timedelta(weeks=weeks - 1), last)
    figures = week_figures(session, group.id, span)
    figures[-1].missed_runs = missed_runs(session, group.id, span[-1].ends_at)
    return GroupReport(group.id, group.name, group.timezone, figures, trend_of(figures))


def trend_of(figures: list[WeekFigures]) -> Trend:
    points = [(i, w.mean_score) for i, w in enumerate(figures) if w.mean_score is not None]
    if len(points) < 2:
        return Trend(None, len(points))
    xs, ys = zip(*points, strict=True)
    return Trend(statistics.linear_regression(xs, ys).slope, len(points))


def _bucket(column, weeks: list[Week]):
    """The index of the week `column` falls in (NULL outside them), as a SQL expression."""
    return case(
        *(((column >= w.starts_at) & (column < w.ends_at), i) for i, w in enumerate(weeks)), else_=None
    )


def _within(column, weeks: list[Week]):
    """Within the span of `weeks`, which are consecutive: every row it keeps has a bucket."""
    return (column >= weeks[0].starts_at) & (column < weeks[-1].ends_at)


def _seconds_between(session: Session, start, end):
    """end - start in seconds, as SQL for the session's database."""
    if session.get_bind().dialect.name == "sqlite":
        # julianday is a float of days: rounded to the millisecond, the seconds are exact again.
        return func.round((func.julianday(end) - func.julianday(start)) * literal(86400.0), 3)
    return func.extract("epoch", end - start)


def week_figures(session: Session, group_id: int, weeks: list[Week]) -> list[WeekFigures]:
    """Sent, answered, scores and escalations for each of `weeks` (consecutive, oldest first)."""
    figures = [WeekFigures(w) for w in weeks]
    if not weeks:
        return figures

    # Prompts sent (a prompt never sent is 'unsent') and answered, by the week they were sent in.
    week = _bucket(CheckIn.prompted_at, weeks).label("week")
    sent = (
        select(
            week,
            func.count().label("sent"),
            func.sum(case((CheckIn.state == "answered", 1), else_=0)).label("answered"),
        )
        .where(
            CheckIn.group_id == group_id,
            CheckIn.prompt_key.is_not(None),
            CheckIn.state != "unsent",
            _within(CheckIn.prompted_at, weeks),
        )
        .group_by(week)
    )
    for index, n_sent, n_answered in session.execute(sent):
        figures[index].sent, figures[index].answered = n_sent, int(n_answered or 0)

    # Scores are encrypted: fetch the week and the score of each scored answer, nothing else. A group's
    # answers are to its prompts, given within ANSWER_WINDOW of them: the bound on prompted_at lets the
    # (group_id, prompted_at) index find them.
    week = _bucket(CheckIn.answered_at, weeks).label("week")
    scored = select(week, CheckIn.score).where(
        CheckIn.group_id == group_id,
        CheckIn.prompted_at >= weeks[0].starts_at - ANSWER_WINDOW,
        CheckIn.prompted_at < weeks[-1].ends_at,
        CheckIn.state == "answered",
        _within(CheckIn.answered_at, weeks),
    )
    for index, score in session.execute(scored):
        if score is not None:
            figures[index].scores.append(int(score))

    # Escalations by the week they were opened in: counts, then the delays of the acknowledged ones.
    week = _bucket(Escalation.opened_at, weeks).label("week")
    in_group = (Escalation.group_id == group_id, _within(Escalation.opened_at, weeks))
    counts: dict[tuple[int, str], list[int]] = {}
    for index, level, opened, acked in session.execute(
        select(
            week,
            Escalation.level,
            func.count(),
            func.count(Escalation.acknowledged_at),
        )
        .where(*in_group)
        .group_by(week, Escalation.level)
    ):
        counts[(index, level)] = [opened, acked]
    delays: dict[tuple[int, str], list[float]] = {}
    for index, level, seconds in session.execute(
        select(
            week,
            Escalation.level,
            _seconds_between(session, Escalation.opened_at, Escalation.acknowledged_at),
        ).where(*in_group, Escalation.acknowledged_at.is_not(None))
    ):
        delays.setdefault((index, level), []).append(max(float(seconds), 0.0))
    levels = list(LEVELS) + sorted({level for _, level in counts} - set(LEVELS))
    for index, figure in enumerate(figures):
        for level in levels:
            opened, acked = counts.get((index, level), (0, 0))
            p50, p90 = percentiles(delays.get((index, level), []))
            figure.escalations.append(LevelFigures(level, opened, acked, p50, p90))
    return figures


def percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """The 50th and 90th percentiles, interpolated between the nearest values (as PostgreSQL's
    percentile_cont); (None, None) for no values."""
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[4], cuts[8]


def missed_runs(
    session: Session, group_id: int, until: datetime, at_least: int = MISSED_RUN
) -> list[MissedRun]:
    """The group's current members whose latest check-ins of this group prompted before `until` were
    missed `at_least` times or more in a row, longest run first. A prompt still open or never sent
    neither breaks a run nor counts in it."""
    ranked = (
        select(
            CheckIn.member_id,
            CheckIn.state,
            func.row_number()
            .over(partition_by=CheckIn.member_id, order_by=(CheckIn.prompted_at.desc(), CheckIn.id.desc()))
            .label("n"),
        )
        .join(GroupMember, (GroupMember.member_id == CheckIn.member_id) & (GroupMember.group_id == group_id))
        .where(
            CheckIn.group_id == group_id,
            CheckIn.prompt_key.is_not(None),
            CheckIn.state.in_(("answered", "missed")),
            CheckIn.prompted_at < until,
        )
        .subquery()
    )
    # The first answered prompt of each member (by recency) ends their run; no answer: the run is all.
    first_answer = (
        select(ranked.c.member_id, func.min(ranked.c.n).label("n"))
        .where(ranked.c.state == "answered")
        .group_by(ranked.c.member_id)
        .subquery()
    )
    run = func.count()  # the missed prompts newer than the member's latest answer
    query = (
        select(ranked.c.member_id, Member.display_name, run.label("run"))
        .join(Member, Member.id == ranked.c.member_id)
        .outerjoin(first_answer, first_answer.c.member_id == ranked.c.member_id)
        .where(ranked.c.state == "missed", (first_answer.c.n.is_(None)) | (ranked.c.n < first_answer.c.n))
        .group_by(ranked.c.member_id, Member.display_name, first_answer.c.n)
        .having(func.count() >= at_least)
    )
    rows = [MissedRun(member_id, name, int(count)) for member_id, name, count in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.missed, r.name, r.member_id))


def missed_runs_by_week(
    session: Session, group_id: int, weeks: list[Week], at_least: int = MISSED_RUN
) -> list[list[MissedRun]]:
    """missed_runs at the end of each of `weeks`, from one read of the group's closed prompts (member,
    time, answered or missed: no scores, no words) rather than one windowed query per week."""
    rows = session.execute(
        select(CheckIn.member_id, Member.display_name, CheckIn.prompted_at, CheckIn.state)
        .join(GroupMember, (GroupMember.member_id == CheckIn.member_id) & (GroupMember.group_id == group_id))
        .join(Member, Member.id == CheckIn.member_id)
        .where(
            CheckIn.group_id == group_id,
            CheckIn.prompt_key.is_not(None),
            CheckIn.state.in_(("answered", "missed")),
            CheckIn.prompted_at < weeks[-1].ends_at,
        )
        .order_by(CheckIn.prompted_at, CheckIn.id)
    ).all()
    runs: dict[int, int] = {}
    names: dict[int, str] = {}
    result = []
    position = 0
    for week in weeks:
        while position < len(rows) and rows[position].prompted_at < week.ends_at:
            member_id, name, _, state = rows[position]
            names[member_id] = name
            runs[member_id] = runs.get(member_id, 0) + 1 if state == "missed" else 0
            position += 1
        found = [MissedRun(m, names[m], n) for m, n in runs.items() if n >= at_least]
        result.append(sorted(found, key=lambda r: (-r.missed, r.name, r.member_id)))
    return result


def csv_rows(session: Session, group: Group, weeks: list[Week]) -> list[dict[str, object]]:
    """One row per week: the report's figures, for a spreadsheet. Times in minutes, rates in percent;
    an empty cell where a figure does not exist (no prompt sent, no score, nothing acknowledged)."""
    figures = week_figures(session, group.id, weeks)
    runs_by_week = missed_runs_by_week(session, group.id, weeks)
    rows = []
    for figure, runs in zip(figures, runs_by_week, strict=True):
        row: dict[str, object] = {
            "group": group.name,
            "week_starts": figure.week.monday.isoformat(),
            "week_ends": figure.week.sunday.isoformat(),
            "time_zone": timezones.as_typed(group.timezone),  # "New York", as the console names it
            "prompts_sent": figure.sent,
            "prompts_answered": figure.answered,
            "reply_rate_percent": _number(figure.reply_rate * 100 if figure.reply_rate is not None else None),
            "scores": len(figure.scores),
            "mean_score": _number(figure.mean_score, 2),
            f"members_{MISSED_RUN}_or_more_missed_in_a_row": len(runs),
            "those_members": "; ".join(f"{r.name} ({r.missed})" for r in runs),
        }
        for level in figure.escalations:
            row[f"{level.level}_escalations"] = level.opened
            row[f"{level.level}_acknowledged"] = level.acknowledged
            row[f"{level.level}_not_acknowledged"] = level.not_acknowledged
            for name, seconds in (("p50", level.p50_seconds), ("p90", level.p90_seconds)):
                row[f"{level.level}_minutes_to_acknowledge_{name}"] = _number(
                    seconds / 60 if seconds is not None else None
                )
        rows.append(row)
    return rows


def _number(value: float | None, places: int = 1) -> str:
    return "" if value is None else f"{value:.{places}f}"
