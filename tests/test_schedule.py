"""Schedule arithmetic, without Pulumi: cron expressions, weekly hours across DST, next transitions."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from constellab.config import Period, Schedule
from constellab.schedule import (
    DAYS,
    REFERENCE_WEEK,
    cron_expressions,
    next_transitions,
    running_intervals,
    week_start_of,
    weekly_usage,
)


def plan_or_skip(zone: str, period_list: list[dict]) -> Schedule:
    """A schedule from generated periods; overlapping ones are refused by the config, so skipped."""
    try:
        return Schedule.model_validate({"timezone": zone, "periods": period_list})
    except ValidationError:
        assume(False)
        raise


def schedule(timezone: str, *periods: tuple[list[str], str, str]) -> Schedule:
    return Schedule.model_validate(
        {"timezone": timezone, "periods": [{"days": d, "start": a, "stop": b} for d, a, b in periods]}
    )


def test_office_hours_are_two_weekday_crons():
    period = Period.model_validate({"days": ["fri", "mon", "wed"], "start": "08:30", "stop": "18:05"})
    assert cron_expressions(period) == ("cron(30 8 ? * MON,WED,FRI *)", "cron(5 18 ? * MON,WED,FRI *)")


def test_an_overnight_period_stops_on_the_next_day():
    period = Period.model_validate({"days": ["sat", "sun"], "start": "22:00", "stop": "06:00"})
    assert cron_expressions(period) == ("cron(0 22 ? * SAT,SUN *)", "cron(0 6 ? * MON,SUN *)")


def test_office_hours_run_fifty_of_168_hours():
    usage = weekly_usage(
        schedule("Europe/Paris", (["mon", "tue", "wed", "thu", "fri"], "08:00", "18:00")), REFERENCE_WEEK
    )
    assert (usage.running_hours, usage.week_hours, usage.saving_percent) == (50.0, 168.0, 70.2)


def test_the_spring_forward_week_is_167_hours_and_loses_the_skipped_hour():
    night = schedule("Europe/Paris", (["sun"], "01:00", "04:00"))
    march_28_2027 = dt.date(2027, 3, 22)  # Paris moves from 02:00 to 03:00 on Sunday 28 March 2027
    usage = weekly_usage(night, march_28_2027)
    assert (usage.running_hours, usage.week_hours) == (2.0, 167.0)
    assert weekly_usage(night, dt.date(2027, 3, 15)).running_hours == 3.0


def test_the_fall_back_week_is_169_hours_and_repeats_an_hour():
    night = schedule("America/New_York", (["sun"], "00:30", "03:30"))
    usage = weekly_usage(night, dt.date(2027, 11, 1))  # New York: 02:00 -> 01:00 on Sunday 7 November 2027
    assert (usage.running_hours, usage.week_hours) == (4.0, 169.0)


def test_an_overnight_run_from_last_sunday_counts_in_this_week_only_after_midnight():
    usage = weekly_usage(schedule("UTC", (["sun"], "22:00", "06:00")), REFERENCE_WEEK)
    assert usage.running_hours == 2.0 + 6.0  # Sunday 22:00-24:00 this week, Monday 00:00-06:00 from last Sunday


@pytest.mark.parametrize(
    "second",
    [(["mon"], "10:00", "14:00"), (["mon"], "12:00", "14:00"), (["sun"], "22:00", "08:00")],
    ids=["overlap", "touching", "overnight-into-monday"],
)
def test_overlapping_or_touching_periods_are_refused(second):
    with pytest.raises(ValidationError, match=r"periods\[1\] overlaps or touches periods\[0\] on mon"):
        schedule("UTC", (["mon"], "08:00", "12:00"), second)


def test_next_start_and_stop_are_in_the_labs_time_zone():
    office = schedule("Asia/Tokyo", (["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00"))
    friday_evening_utc = dt.datetime(2027, 1, 8, 10, 0, tzinfo=dt.UTC)  # 19:00 in Tokyo, after the stop
    upcoming = next_transitions(office, friday_evening_utc)
    assert upcoming.start is not None and upcoming.stop is not None
    assert upcoming.start.isoformat() == "2027-01-11T09:00:00+09:00"
    assert upcoming.stop.isoformat() == "2027-01-11T18:00:00+09:00"


def test_weekly_usage_wants_a_monday():
    with pytest.raises(ValueError, match="not a Monday"):
        weekly_usage(schedule("UTC", (["mon"], "08:00", "09:00")), dt.date(2027, 1, 5))


times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
periods = st.builds(
    lambda days, start, stop: {"days": sorted(days, key=DAYS.index), "start": start, "stop": stop},
    st.sets(st.sampled_from(DAYS), min_size=1),
    times,
    times,
).filter(lambda p: p["start"] != p["stop"])


@st.composite
def separate_periods(draw: st.DrawFn, most: int = 3) -> list[dict]:
    """Periods the config accepts together: each on days of its own, within one day (none overnight)."""
    days = draw(st.permutations(DAYS))
    count = draw(st.integers(1, most))
    cuts = sorted(draw(st.lists(st.integers(1, 6), min_size=count - 1, max_size=count - 1, unique=True)))
    groups = [days[a:b] for a, b in zip([0, *cuts], [*cuts, 7], strict=True)]
    found = []
    for group in groups:
        start = draw(st.integers(0, 47)) * 15
        stop = draw(st.integers(start // 15 + 1, 95)) * 15
        found.append({"days": sorted(group, key=DAYS.index), "start": f"{start // 60:02d}:{start % 60:02d}",
                      "stop": f"{stop // 60:02d}:{stop % 60:02d}"})  # fmt: skip
    return found


plans = st.one_of(periods.map(lambda p: [p]), separate_periods())
zones = st.sampled_from(
    ["UTC", "Europe/Paris", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata"]
)
mondays = st.integers(0, 104).map(lambda weeks: dt.date(2026, 1, 5) + dt.timedelta(weeks=weeks))


@settings(max_examples=150, deadline=None)
@given(zone=zones, period_list=plans, monday=mondays)
def test_running_hours_never_exceed_the_week_whatever_the_clock_changes(zone, period_list, monday):
    usage = weekly_usage(plan_or_skip(zone, period_list), monday)
    assert usage.week_hours > 0 and 166.5 <= usage.week_hours <= 169.5
    assert 0 <= usage.running_hours <= usage.week_hours


@settings(max_examples=150, deadline=None)
@given(zone=zones, period_list=separate_periods(), monday=mondays)
def test_adding_a_period_never_reduces_running_hours(zone, period_list, monday):
    assume(len(period_list) > 1)
    before = weekly_usage(plan_or_skip(zone, period_list[:-1]), monday)
    after = weekly_usage(plan_or_skip(zone, period_list), monday)
    assert after.running_hours >= before.running_hours - 1e-9


@settings(max_examples=150, deadline=None)
@given(period=periods, monday=mondays)
def test_in_utc_a_period_runs_its_length_on_each_of_its_days(period, monday):
    start = dt.datetime.strptime(period["start"], "%H:%M")
    stop = dt.datetime.strptime(period["stop"], "%H:%M")
    length = ((stop - start).total_seconds() / 3600) % 24
    usage = weekly_usage(Schedule.model_validate({"timezone": "UTC", "periods": [period]}), monday)
    assert usage.running_hours == pytest.approx(length * len(period["days"]))


@settings(max_examples=100, deadline=None)
@given(zone=zones, period_list=plans, offset_minutes=st.integers(0, 7 * 24 * 60))
def test_the_lab_is_running_between_next_start_and_next_stop(zone, period_list, offset_minutes):
    plan = plan_or_skip(zone, period_list)
    now = dt.datetime(2027, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=offset_minutes)
    upcoming = next_transitions(plan, now)
    intervals = running_intervals(plan, week_start_of(now.date()) - dt.timedelta(days=7), 21)
    if upcoming.start is None or upcoming.stop is None:
        # Periods that chain into each other: the lab never stops within the horizon.
        assert any(i.start <= now and i.stop >= now + dt.timedelta(days=7) for i in intervals)
        return
    assert any(i.start == upcoming.start for i in intervals)
    assert any(i.stop == upcoming.stop for i in intervals)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [("2027-01-04T06:59", False), ("2027-01-04T07:00", True), ("2027-01-04T17:59", True),
     ("2027-01-04T18:00", False), ("2027-01-08T22:30", True), ("2027-01-09T01:59", True),
     ("2027-01-09T02:00", False), ("2027-01-09T12:00", False)],
)  # fmt: skip
def test_an_up_reads_a_schedule_in_the_labs_own_time_zone_overnight_periods_included(utc, expected):
    from constellab.power_state import desired_state, scheduled_to_run

    paris = Schedule.model_validate(
        {"timezone": "Europe/Paris", "periods": [
            {"days": ["mon", "tue", "wed", "thu"], "start": "08:00", "stop": "19:00"},
            {"days": ["fri"], "start": "23:00", "stop": "03:00"}]}
    )  # fmt: skip
    now = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert scheduled_to_run(paris, now) is expected
    assert desired_state("running", paris, False, now) == ("running" if expected else "stopped")
    assert desired_state("running", paris, True, now) == ("any" if expected else "stopped")
    assert desired_state("stopped", paris, False, now) == "stopped", "parked: whatever the hour"
