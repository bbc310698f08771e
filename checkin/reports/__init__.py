"""Reports for coordinators and facilitators: what happened in a group, week by week (checkin.reports.weekly)."""
