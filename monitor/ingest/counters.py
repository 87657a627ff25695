"""Cumulative device step counters turned into steps per minute, surviving resets, reboots and gaps.

A counter is observed now and then; each observation is compared with the last accepted one:

* equal: nothing happened (a reconnect repeats the last value);
* higher: the difference was walked since the last observation;
* lower: the device reset (midnight or reboot), so the new value was walked since the reset;
* a new local day for a counter that resets at midnight: the value was walked since midnight,
  whatever it was yesterday -- unless the counter shows it has not reset yet (a watch asleep
  or with its clock behind): yesterday's value repeated, or a value that goes on from it while
  the link stayed up (a live watch notifies its reset at once), or one that goes on from it and
  is more than anyone walks since midnight. Such a *stale* count still belongs to yesterday:
  what it adds is counted, and the day starts when the counter resets;
* the very first value of a counter that resets at midnight is not credited at once (it may be
  yesterday's count, not yet reset): only once the counter goes on counting from it on the
  same day, else it is dropped at the next reset;
* more than a person can walk in the time that passed: rejected as a glitch, unless the
  counter goes on counting plausibly from the new level, which then becomes the baseline (no
  steps for the jump).

Steps seen while the link stayed up were walked just before they were notified. Steps that
arrive after the link was down (a walk out of range, a reboot) are spread evenly over the gap
and marked inferred. Nothing here reads a clock: every instant comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, overload

from devices.readings import CounterEpoch
from monitor.days import minute_of, minute_start

# Faster than anyone walks or runs for long; a counter that rises faster than this is a glitch.
MAX_CADENCE_SPM = 250.0
# Notifications bunch up and clocks jitter; a few steps beyond the ceiling are still believable.
PLAUSIBILITY_SLACK_STEPS = 30
# Steps notified live were taken at about this cadence just before the notification.
LIVE_CADENCE_SPM = 100.0
# Steps that arrive after a gap are assumed walked at this cadence (a comfortable walk) when
# estimating how many of the gap's minutes were spent walking.
GAP_CADENCE_SPM = 100.0
# Consistent observations needed before a jump the counter cannot explain becomes the baseline.
CONFIRMATIONS_TO_REBASELINE = 2
# A live link reads or hears the counter at least this often (its watchdog reads every 5 min):
# a longer silence without a link event is judged as a gap.
LIVE_SILENCE = timedelta(hours=1)
# The link sets a watch's clock a little ahead, so that its midnight comes just before ours: a
# counter seen resetting this close before our midnight has already begun the new day.
EARLY_MIDNIGHT = timedelta(minutes=5)


class Outcome(StrEnum):
    """What an observation meant."""

    FIRST = "first"  # the first observation of this counter: a baseline
    REPEAT = "repeat"  # same value as before
    COUNTED = "counted"  # steps since the last observation
    RESET = "reset"  # the counter started again from zero
    REJECTED = "rejected"  # implausible: ignored for now
    REBASELINED = "rebaselined"  # an implausible level was confirmed and adopted


@dataclass(frozen=True, slots=True)
class StepSpan:
    """Steps credited to an interval; inferred when they arrived after the link was down."""

    start: datetime
    end: datetime
    steps: int
    inferred: bool


@dataclass(frozen=True, slots=True)
class MinuteSteps:
    """Steps credited to one UTC minute, with the walking seconds inferred from a gap."""

    minute: int
    steps: int
    inferred: bool
    inferred_walking_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CounterState:
    """What is remembered about one device's counter between observations."""

    value: int
    at: datetime
    link_down_at: datetime | None = None  # the link went down after `at`
    reconnected: bool = False  # a new connection began after `at`
    reset_at: datetime | None = None  # when the counter was last seen starting again
    # A daily counter seen after local midnight still holding yesterday's count: its next
    # reset starts today's count (whenever it comes), not the midnight already passed.
    stale: bool = False
    # The first value ever seen, at `at`, not yet credited: from this midnight, once the
    # counter goes on counting from it (it may be yesterday's count not yet reset).
    unconfirmed_since: datetime | None = None
    # An implausible level seen at `suspect_since` (first value) and since confirmed
    # `suspect_seen` times, most recently as `suspect_value` at `suspect_at`.
    suspect_first: int | None = None
    suspect_since: datetime | None = None
    suspect_value: int | None = None
    suspect_at: datetime | None = None
    suspect_seen: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form of the state, for persisting between runs."""
        return {
            "value": self.value,
            "at": self.at.isoformat(),
            "link_down_at": _iso(self.link_down_at),
            "reconnected": self.reconnected,
            "reset_at": _iso(self.reset_at),
            "stale": self.stale,
            "unconfirmed_since": _iso(self.unconfirmed_since),
            "suspect_first": self.suspect_first,
            "suspect_since": _iso(self.suspect_since),
            "suspect_value": self.suspect_value,
            "suspect_at": _iso(self.suspect_at),
            "suspect_seen": self.suspect_seen,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CounterState:
        """The state saved by `to_json`."""
        return cls(
            value=int(data["value"]),
            at=datetime.fromisoformat(data["at"]),
            link_down_at=_from_iso(data.get("link_down_at")),
            reconnected=bool(data.get("reconnected", False)),
            reset_at=_from_iso(data.get("reset_at")),
            stale=bool(data.get("stale", False)),
            unconfirmed_since=_from_iso(data.get("unconfirmed_since")),
            suspect_first=data.get("suspect_first"),
            suspect_since=_from_iso(data.get("suspect_since")),
            suspect_value=data.get("suspect_value"),
            suspect_at=_from_iso(data.get("suspect_at")),
            suspect_seen=int(data.get("suspect_seen", 0)),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """The result of one observation: the new state, what it meant, and the steps it credits.

    `earlier` holds a first value's steps confirmed by this observation (from its midnight to
    when it was seen); `span` what was walked since the last observation.
    """

    state: CounterState | None
    outcome: Outcome
    span: StepSpan | None = None
    earlier: StepSpan | None = None

    @property
    def spans(self) -> tuple[StepSpan, ...]:
        """Every span this observation credits, oldest first."""
        return tuple(s for s in (self.earlier, self.span) if s is not None)


def max_plausible_steps(seconds: float) -> int:
    """The most steps a person can take in `seconds`, with slack for bunched notifications."""
    return int(max(seconds, 0.0) * MAX_CADENCE_SPM / 60.0) + PLAUSIBILITY_SLACK_STEPS


@overload
def link_changed(state: CounterState, connected: bool, at: datetime) -> CounterState: ...
@overload
def link_changed(state: None, connected: bool, at: datetime) -> None: ...
def link_changed(state: CounterState | None, connected: bool, at: datetime) -> CounterState | None:
    """Note that the link to the device went down or came up at `at`."""
    if state is None:
        return None
    if connected:
        return replace(state, reconnected=True)
    if state.link_down_at is None:
        return replace(state, link_down_at=max(at, state.at))
    return state


def observe(
    state: CounterState | None,
    total: int,
    epoch: CounterEpoch,
    at: datetime,
    local_day_start: datetime,
) -> Observation:
    """Judge a counter value seen at `at` against the state; `local_day_start` is its midnight."""
    if total < 0:
        return Observation(state, Outcome.REJECTED)
    if state is None:
        return _first(total, epoch, at, local_day_start)
    if at < state.at:
        # Out of order (cannot happen with one link per device); never count backwards in time.
        return Observation(state, Outcome.REJECTED)

    daily = epoch is CounterEpoch.LOCAL_DAY
    began_early = state.reset_at is not None and (
        timedelta(0) <= local_day_start - state.reset_at <= EARLY_MIDNIGHT
    )
    crossed = daily and state.at < local_day_start and not began_early
    # Not seen resetting since the last local midnight: a value that goes on from the last one
    # is still yesterday's count.
    behind = crossed or (daily and state.stale)
    since = state.link_down_at or state.at
    if total == state.value:
        kept = CounterState(
            total,
            at,
            reset_at=state.reset_at,
            stale=behind,
            unconfirmed_since=state.unconfirmed_since,
        )
        return Observation(kept, Outcome.REPEAT)

    stale = False
    if total < state.value:
        # A reset since the last observation: after a midnight passed, no earlier than it.
        since = max(since, local_day_start) if crossed else since
        steps, outcome = total, Outcome.RESET
    elif crossed and not _continues(state, total, at, local_day_start):
        since, steps, outcome = local_day_start, total, Outcome.RESET
    else:
        steps, outcome, stale = total - state.value, Outcome.COUNTED, behind

    if steps > max_plausible_steps((at - since).total_seconds()):
        return _suspect(state, total, at)

    inferred = state.reconnected or state.link_down_at is not None
    span = _span(since, at, steps, inferred=inferred) if steps else None
    earlier = None
    if state.unconfirmed_since is not None and outcome is Outcome.COUNTED:
        # The first value goes on counting: it was its own day's count, credit it there.
        earlier = StepSpan(state.unconfirmed_since, state.at, state.value, True)
    reset_at = at if outcome is Outcome.RESET else state.reset_at
    new_state = CounterState(total, at, reset_at=reset_at, stale=stale)
    return Observation(new_state, outcome, span, earlier)


def _continues(state: CounterState, total: int, at: datetime, local_day_start: datetime) -> bool:
    """Whether a higher value after midnight goes on from yesterday's count (no reset yet).

    A live watch notifies its reset as it happens, so on a link that stayed up (and was heard
    within LIVE_SILENCE) a higher value is a continuation; after a link loss it is one only if
    nobody could have walked it since midnight (else it is read as today's count, the watch
    having reset at midnight: the two cannot be told apart from the counter alone).
    """
    if total - state.value > max_plausible_steps((at - state.at).total_seconds()):
        return False
    live = not state.reconnected and state.link_down_at is None
    if live and at - state.at <= LIVE_SILENCE:
        return True
    return total > max_plausible_steps((at - local_day_start).total_seconds())


def _first(total: int, epoch: CounterEpoch, at: datetime, local_day_start: datetime) -> Observation:
    # A counter that starts at midnight may hold today's steps so far, or yesterday's count
    # not yet reset: credited once it goes on counting from here the same day.
    pending = (
        epoch is CounterEpoch.LOCAL_DAY
        and total > 0
        and local_day_start <= at
        and total <= max_plausible_steps((at - local_day_start).total_seconds())
    )
    state = CounterState(value=total, at=at, unconfirmed_since=local_day_start if pending else None)
    return Observation(state, Outcome.FIRST)


def _suspect(state: CounterState, total: int, at: datetime) -> Observation:
    """An observation the baseline cannot explain: hold it until later ones confirm it."""
    confirms = (
        state.suspect_value is not None
        and state.suspect_at is not None
        # Only a counter that goes on counting from the new level confirms it; a stuck
        # value repeated is still a glitch.
        and total > state.suspect_value
        and total - state.suspect_value
        <= max_plausible_steps((at - state.suspect_at).total_seconds())
    )
    if not confirms:
        fresh = replace(
            state,
            suspect_first=total,
            suspect_since=at,
            suspect_value=total,
            suspect_at=at,
            suspect_seen=0,
        )
        return Observation(fresh, Outcome.REJECTED)
    seen = state.suspect_seen + 1
    if seen < CONFIRMATIONS_TO_REBASELINE:
        moved = replace(state, suspect_value=total, suspect_at=at, suspect_seen=seen)
        return Observation(moved, Outcome.REJECTED)
    # The new level holds: adopt it. The jump itself is never counted; what was walked while
    # it was being confirmed is.
    first = state.suspect_first if state.suspect_first is not None else total
    since = state.suspect_since or at
    walked = total - first
    span = _span(since, at, walked, inferred=True) if walked else None
    return Observation(CounterState(total, at), Outcome.REBASELINED, span)


def _span(since: datetime, at: datetime, steps: int, *, inferred: bool) -> StepSpan:
    if inferred:
        return StepSpan(since, at, steps, True)
    # Live: the device notifies as it counts, so the steps were taken just before `at`.
    walked_for = timedelta(minutes=steps / LIVE_CADENCE_SPM)
    return StepSpan(max(since, at - walked_for), at, steps, False)


def spread(span: StepSpan) -> list[MinuteSteps]:
    """Share a span's steps out over the UTC minutes it overlaps, in proportion to the overlap.

    Whole steps only, summing exactly to the span's steps (largest remainder, ties to the
    earlier minute), so the split is the same every time it is computed.
    """
    first, last = minute_of(span.start), minute_of(span.end)
    if span.end == minute_start(last) and last > first:
        last -= 1  # the span ends exactly where this minute begins
    if first == last or span.end <= span.start:
        walking = _walking_share(span, (span.end - span.start).total_seconds())
        return [MinuteSteps(last, span.steps, span.inferred, walking)]
    duration = (span.end - span.start).total_seconds()
    overlaps: list[float] = []
    for minute in range(first, last + 1):
        lo = max(span.start, minute_start(minute))
        hi = min(span.end, minute_start(minute + 1))
        overlaps.append((hi - lo).total_seconds())
    exact = [span.steps * o / duration for o in overlaps]
    whole = [int(e) for e in exact]
    short = span.steps - sum(whole)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - whole[i]), i))
    for i in by_remainder[:short]:
        whole[i] += 1
    minutes = []
    for i, steps in enumerate(whole):
        walking = _walking_share(span, overlaps[i])
        if steps or walking:
            minutes.append(MinuteSteps(first + i, steps, span.inferred, walking))
    return minutes


def _walking_share(span: StepSpan, overlap_s: float) -> float:
    """Walking seconds inferred for `overlap_s` seconds of a gap span; live spans infer none."""
    if not span.inferred or span.steps == 0:
        return 0.0
    duration = (span.end - span.start).total_seconds()
    walking_s = span.steps * 60.0 / GAP_CADENCE_SPM
    if duration <= 0:
        return min(walking_s, 60.0)
    return overlap_s * min(1.0, walking_s / duration)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
