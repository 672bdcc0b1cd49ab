"""Schedule arithmetic for cloud labs: cron expressions, weekly running hours, next start and stop.

Times are wall-clock times in the lab's IANA time zone, as EventBridge Scheduler reads them with
`ScheduleExpressionTimezone`. Durations are measured on the UTC timeline, so a week with a
daylight-saving change is 167 or 169 hours long and a period across the change is an hour shorter
or longer, as the instance's bill is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from constellab.config import WEEKDAYS, Period, Schedule

DAYS = WEEKDAYS


def _clock(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def is_overnight(period: Period) -> bool:
    """A period whose stop is at or before its start ends on the next day."""
    return _clock(period.stop) <= _clock(period.start)


def _cron(time: dt.time, days: Sequence[str]) -> str:
    return f"cron({time.minute} {time.hour} ? * {','.join(day.upper() for day in days)} *)"


def cron_expressions(period: Period) -> tuple[str, str]:
    """EventBridge Scheduler expressions (start, stop) of a period, in the schedule's time zone."""
    days = sorted(set(period.days), key=DAYS.index)
    stop_days = [DAYS[(DAYS.index(day) + 1) % 7] for day in days] if is_overnight(period) else days
    stop_days = sorted(set(stop_days), key=DAYS.index)
    return _cron(_clock(period.start), days), _cron(_clock(period.stop), stop_days)


@dataclass(frozen=True)
class Interval:
    """One running period, in UTC."""

    start: dt.datetime
    stop: dt.datetime


def _local(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def running_intervals(schedule: Schedule, first_day: dt.date, days: int) -> list[Interval]:
    """The merged UTC intervals during which the lab runs, for periods starting on the given local days.

    Periods that start the day before `first_day` are included, so an overnight run is not lost.
    """
    zone = ZoneInfo(schedule.timezone)
    raw: list[Interval] = []
    for offset in range(-1, days):
        day = first_day + dt.timedelta(days=offset)
        weekday = DAYS[day.weekday()]
        for period in schedule.periods:
            if weekday not in period.days:
                continue
            stop_day = day + dt.timedelta(days=1) if is_overnight(period) else day
            raw.append(Interval(_local(day, _clock(period.start), zone), _local(stop_day, _clock(period.stop), zone)))
    merged: list[Interval] = []
    for interval in sorted(raw, key=lambda i: i.start):
        if interval.stop <= interval.start:
            continue  # a period swallowed by a clock change
        if merged and interval.start <= merged[-1].stop:
            merged[-1] = Interval(merged[-1].start, max(merged[-1].stop, interval.stop))
        else:
            merged.append(interval)
    return merged


@dataclass(frozen=True)
class WeeklyUsage:
    """Running hours in one local week (Monday 00:00 to Monday 00:00) and the saving against always-on."""

    week_start: dt.date
    running_hours: float
    week_hours: float

    @property
    def saving_percent(self) -> float:
        return round(100 * (1 - self.running_hours / self.week_hours), 1)


def week_start_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_usage(schedule: Schedule, week_start: dt.date) -> WeeklyUsage:
    """Running hours of the local week starting on `week_start` (a Monday), clipped to that week."""
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start} is not a Monday")
    zone = ZoneInfo(schedule.timezone)
    begin = _local(week_start, dt.time(0, 0), zone)
    end = _local(week_start + dt.timedelta(days=7), dt.time(0, 0), zone)
    hours = 0.0
    for interval in running_intervals(schedule, week_start, 7):
        start, stop = max(interval.start, begin), min(interval.stop, end)
        if stop > start:
            hours += (stop - start).total_seconds() / 3600
    return WeeklyUsage(week_start, round(hours, 4), round((end - begin).total_seconds() / 3600, 4))


REFERENCE_WEEK = dt.date(2027, 1, 4)
"""A Monday with no daylight-saving change anywhere: the week the stack outputs describe."""


@dataclass(frozen=True)
class NextTransitions:
    """When a scheduled lab next starts and stops (None: never, e.g. a schedule with no period)."""

    start: dt.datetime | None
    stop: dt.datetime | None


def next_transitions(schedule: Schedule, now: dt.datetime) -> NextTransitions:
    """The next scheduled start and stop after `now`, in the schedule's time zone."""
    zone = ZoneInfo(schedule.timezone)
    today = now.astimezone(zone).date()
    intervals = running_intervals(schedule, today, 9)
    starts = [i.start for i in intervals if i.start > now]
    stops = [i.stop for i in intervals if i.stop > now]
    return NextTransitions(
        start=min(starts).astimezone(zone) if starts else None,
        stop=min(stops).astimezone(zone) if stops else None,
    )
