"""Only the member's own START lifts their own STOP (checkin.consent.own_stop): no staff opt-in, from the
console, the command line or any other caller, may undo it. A staff-recorded opt-out can be undone by
staff, saying how and when the member asked again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from checkin import consent
from checkin.models import ConsentEvent, Member


def _staff_opt_in(s, member, asked_on):
    consent.staff_opt_in(
        s, member, source="staff:cli", how="Asked again on a call", asked_on=asked_on, today=date.today()
    )


@pytest.mark.parametrize("source", ["keyword:STOP", "phrase", "carrier:21610", "before-added:keyword:STOP"])
def test_no_staff_opt_in_undoes_the_members_own_stop(db, member, source):
    with db.session() as s:
        m = s.get(Member, member.id)
        consent.opt_out(s, m, source=source)
        s.commit()
        assert consent.own_stop(s, m).source == source
        with pytest.raises(consent.OptInRefused, match="only they can undo that"):
            _staff_opt_in(s, m, date.today())
        s.commit()
    with db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"
        assert [e.kind for e in s.get(Member, member.id).consent_events if e.kind == "opt_in"] == ["opt_in"]


def test_a_stop_still_stands_after_a_later_staff_opt_out(db, member):
    with db.session() as s:
        m = s.get(Member, member.id)
        consent.opt_out(s, m, source="keyword:STOP")
        consent.opt_out(s, m, source="staff:1")
        assert consent.own_stop(s, m) is not None


def test_after_a_staff_opt_out_staff_opt_in_records_how_and_when(db, member):
    today = date.today()
    with db.session() as s:
        m = s.get(Member, member.id)
        consent.opt_out(s, m, source="staff:1")
        s.commit()
        assert consent.own_stop(s, m) is None
        with pytest.raises(consent.OptInRefused, match="before they opted out on"):
            _staff_opt_in(s, m, today - timedelta(days=3))
        assert m.status == "opted_out"
        _staff_opt_in(s, m, today - timedelta(days=0))
        s.commit()
        assert (m.status, m.consent_source, m.consent_date) == ("active", "Asked again on a call", today)
        assert (
            s.query(ConsentEvent).filter_by(member_id=m.id).order_by(ConsentEvent.id.desc()).first().kind
            == "opt_in"
        )
