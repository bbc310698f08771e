"""Weekly reports: a group's check-ins, scores, missed runs and escalations, week by week, as charts with
their numbers beside them; the same figures as CSV for coordinators (audited)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, abort, redirect, render_template, request, url_for

from checkin.db import utcnow
from checkin.errors import ValidationError
from checkin.member_data.export import to_csv
from checkin.reports import weekly
from webhooks.console import bp
from webhooks.console.auth import (
    audit_here,
    coordinator_required,
    db,
    group_visible,
    login_required,
    visible_groups,
)
from webhooks.console.report_charts import checkins_chart, score_chart
from webhooks.console.views_roster import file_part
from webhooks.params import optional_id

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)  # weeks are counted back from the chosen one


def _date(name: str, raw: str | None, default: date) -> date:
    day, error = _read_date(name, raw, default)
    if error:
        abort(400, error)
    return day


def _read_date(name: str, raw: str | None, default: date) -> tuple[date, str | None]:
    """The day written in `raw` (or `default` when blank), or the reason it is not one, in words."""
    if not raw or not raw.strip():
        return default, None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        return default, f"{name} must be a date written like 2026-11-30, not {raw[:40]!r}"
    if not EARLIEST <= day <= LATEST:
        return (
            default,
            f"{name} must be a date between {EARLIEST.year} and {LATEST.year}, not {day.isoformat()}",
        )
    return day, None


def duration_words(seconds: float | None) -> str:
    """'under a minute', '7 min', '2 h 5 min', '3 days 4 h': a time to acknowledge."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


@bp.route("/reports")
@login_required
def reports():
    groups = visible_groups()
    group_id = optional_id("group", request.args.get("group"), "a group's number from the list")
    if group_id:
        group = group_visible(group_id)
    elif groups:
        group = groups[0]
    else:
        return render_template("console/reports.html", groups=[], group=None, report=None)
    this_week = weekly.local_monday(group.timezone, utcnow())
    monday = weekly.monday_of(_date("week", request.args.get("week"), this_week))
    return _report_page(groups, group, monday, this_week)


def _report_page(
    groups, group, monday: date, this_week: date, export_error: str | None = None, status: int = 200
):
    """The report page; with `export_error`, the CSV form shows it beside its fields, the dates as typed."""
    report = weekly.weekly_report(db(), group, monday)
    return render_template(
        "console/reports.html",
        groups=groups,
        group=group,
        report=report,
        chosen=report.chosen,
        previous=monday - timedelta(weeks=1),
        following=monday + timedelta(weeks=1) if monday < this_week else None,
        this_week=this_week,
        checkins_chart=checkins_chart(report.weeks),
        score_chart=score_chart(report.weeks),
        duration_words=duration_words,
        first_default=monday - timedelta(weeks=weekly.TREND_WEEKS - 1),
        missed_run=weekly.MISSED_RUN,
        export_error=export_error,
        export_first=request.form.get("first", "") if export_error else None,
        export_last=request.form.get("last", "") if export_error else None,
    ), status


@bp.get("/reports/<int:group_id>/export")
@login_required
def reports_export_page(group_id: int):
    """The export's address, reloaded after a refusal: the group's report, not "Method Not Allowed"."""
    return redirect(url_for("console.reports", group=group_id))


@bp.route("/reports/<int:group_id>/export", methods=["POST"])
@coordinator_required
def reports_export(group_id: int):
    group = group_visible(group_id)
    this_week = weekly.local_monday(group.timezone, utcnow())
    last, error = _read_date('"To the week of"', request.form.get("last"), this_week)
    first, first_error = _read_date(
        '"From the week of"', request.form.get("first"), last - timedelta(weeks=weekly.TREND_WEEKS - 1)
    )
    error = error or first_error
    if not error:
        try:
            weeks = weekly.weeks_between(group.timezone, first, last)
        except ValidationError as exc:
            error = str(exc)
    if error:  # the report page again, the message beside the fields and the dates as typed
        return _report_page(visible_groups(), group, weekly.monday_of(this_week), this_week, error, 400)
    content = "\ufeff" + to_csv(weekly.csv_rows(db(), group, weeks))  # the BOM: Excel reads it as UTF-8
    audit_here(
        "report_export",
        f"group:{group.id} weeks:{weeks[0].monday.isoformat()}..{weeks[-1].monday.isoformat()}",
    )
    db().commit()
    name = (
        f"report-{file_part(group.name)}-{weeks[0].monday.isoformat()}-to-{weeks[-1].monday.isoformat()}.csv"
    )
    return Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
