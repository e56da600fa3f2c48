"""The alarm life cycle: raised → acknowledged → cleared → closed.

* One active (raised or acknowledged) alarm per rule and object: a repeat adds to its counter and
  moves its last time (a unique partial index guards it).
* A condition that is gone for the hold time clears the alarm; one that comes back within the
  flap window reopens the cleared alarm instead of raising a new one, and after ``flap_threshold``
  returns the alarm is *flapping*: its notifications pause and it clears only after the
  condition has been gone for a whole flap window.
* A critical alarm left unacknowledged is escalated after ``escalate_after_seconds`` (up to
  ``max_escalation_level``) and reminded every ``remind_every_seconds`` until someone acknowledges
  it. A shelved alarm notifies nobody until its shelf time ends.
* Every step is a row of the alarm's history, an event on ``egsu.alarms.<severity>`` (through the
  outbox, in the same transaction) and an audit record.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.bus.audit import AuditLog
from egsu.contracts.alarms import AlarmEvent, AlarmSnapshot, alarm_subject
from egsu.contracts.audit import Actor
from egsu.core.errors import Conflict, FieldError, NotFound, Unprocessable
from egsu.monitoring import models as m
from egsu.monitoring.config import MonitoringSettings
from egsu.monitoring.evaluate import Signal
from egsu.monitoring.rules import OBJECT_OF_KIND
from egsu.monitoring.texts import message
from egsu.runtime.outbox import enqueue

log = logging.getLogger("egsu.monitoring.alarms")
ACTIVE = ("raised", "acknowledged")
SYSTEM = Actor(username="monitoring", role="service", client_id="egsu-monitoring")


def utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def snapshot(a: dict[str, Any]) -> AlarmSnapshot:
    return AlarmSnapshot(
        id=str(a["id"]),
        rule_id=str(a["rule_id"]) if a["rule_id"] else None,
        rule_version=a["rule_version"],
        kind=a["kind"],
        category=a["category"],
        severity=a["severity"],
        state=a["state"],
        object_type=a["object_type"],
        object_id=a["object_id"],
        subject_bin=a["subject_bin"],
        facility_id=a["facility_id"],
        facility_type=a["facility_type"],
        region_kato=a["region_kato"],
        point_code=a["point_code"],
        quantity=a["quantity"],
        message=a["message"],
        value=a["value"],
        limit=a["limit"],
        first_ts=a["first_ts"],
        last_ts=a["last_ts"],
        raised_at=a["raised_at"],
        count=a["count"],
        late=a["late"],
        flapping=a["flapping"],
        escalation_level=a["escalation_level"],
        acknowledged_at=a["acknowledged_at"],
        acknowledged_by=a["acknowledged_by"],
        cleared_at=a["cleared_at"],
        shelved_until=a["shelved_until"],
        details=a["details"] or {},
    )


class AlarmEngine:
    def __init__(self, settings: MonitoringSettings, audit: AuditLog | None) -> None:
        self.s = settings
        self.audit = audit
        self.open_keys: set[tuple[str, str, str]] = set()
        self.published = 0

    async def load(self, session: AsyncSession) -> None:
        a = m.alarm
        rows = await session.execute(
            select(a.c.rule_id, a.c.object_type, a.c.object_id).where(a.c.state.in_(ACTIVE))
        )
        self.open_keys = {(str(r[0]), r[1], r[2]) for r in rows}

    # -- steps -------------------------------------------------------------------------------------

    async def _step(
        self,
        session: AsyncSession,
        a: dict[str, Any],
        type_: str,
        at: datetime,
        *,
        actor: str | None = None,
        comment: str | None = None,
        notify: bool = True,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record one step: history row, outbox event (unless suppressed), audit."""
        a["seq"] = int(a["seq"]) + 1
        await session.execute(update(m.alarm).where(m.alarm.c.id == a["id"]).values(seq=a["seq"]))
        await session.execute(
            insert(m.alarm_event).values(
                alarm_id=a["id"],
                seq=a["seq"],
                type=type_,
                at=at,
                actor=actor,
                comment=comment,
                details=details or {},
            )
        )
        shelved = a["shelved_until"] is not None and a["shelved_until"] > at
        suppressed = (shelved and type_ not in ("shelved", "unshelved")) or (
            a["flapping"] and type_ in ("reopened", "cleared")
        )
        if notify and not suppressed:
            event = AlarmEvent(
                id=f"alarm-{a['id']}-{a['seq']}",
                type=type_,  # type: ignore[arg-type]
                time=at,
                actor=actor,
                comment=comment,
                alarm=snapshot(a),
            )
            await enqueue(session, m.outbox, alarm_subject(a["severity"]), event, event.id)
            self.published += 1
        if self.audit is not None and actor is None:
            self.audit.record_nowait(
                "abnormal",
                f"alarm.{type_}",
                actor=SYSTEM,
                object_type="alarm",
                object_id=str(a["id"]),
                after={"state": a["state"], "severity": a["severity"], "object": a["object_id"]},
                subject_bin=a["subject_bin"],
                alarm_kind=a["kind"],
            )

    async def _update(self, session: AsyncSession, a: dict[str, Any], **values: Any) -> None:
        a.update(values)
        await session.execute(update(m.alarm).where(m.alarm.c.id == a["id"]).values(**values))

    # -- signals from data and time ----------------------------------------------------------------

    async def apply(self, session: AsyncSession, signals: list[Signal], now: datetime) -> int:
        """Raise, repeat, reopen or clear alarms after a batch or a sweep; returns steps taken."""
        if not signals:
            return 0
        a = m.alarm
        keys = list({s.key for s in signals})
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = await session.execute(
                select(a)
                .where(
                    a.c.state.in_(ACTIVE),
                    tuple_(a.c.rule_id, a.c.object_type, a.c.object_id).in_(chunk),
                )
                .with_for_update()
            )
            for r in rows.mappings():
                found[(str(r["rule_id"]), r["object_type"], r["object_id"])] = dict(r)
        steps = 0
        for sig in signals:
            steps += await self._apply_one(session, sig, found.get(sig.key), now)
        return steps

    async def _recently_cleared(
        self, session: AsyncSession, sig: Signal, now: datetime
    ) -> dict[str, Any] | None:
        a = m.alarm
        row = (
            (
                await session.execute(
                    select(a)
                    .where(
                        a.c.rule_id == sig.rule.id,
                        a.c.object_type == sig.object_type,
                        a.c.object_id == sig.object_id,
                        a.c.state == "cleared",
                        a.c.cleared_by.is_(None),
                        a.c.cleared_at > now - timedelta(seconds=self.s.flap_window_seconds),
                    )
                    .order_by(a.c.cleared_at.desc())
                    .limit(1)
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def _hold(self, sig: Signal) -> float:
        return sig.rule.hold_s if sig.rule.hold_s is not None else self.s.hold_seconds

    async def _apply_one(
        self, session: AsyncSession, sig: Signal, cur: dict[str, Any] | None, now: datetime
    ) -> int:
        steps = 0
        occ = sig.occurrences
        if cur is None and occ:
            old = await self._recently_cleared(session, sig, now)
            if old is not None:
                cur = await self._reopen(session, old, sig, now)
            else:
                cur = await self._raise(session, sig, now)
            steps += 1
        elif cur is not None and occ:
            newest = max(occ)
            values: dict[str, Any] = {"count": cur["count"] + len(occ), "last_at": now}
            if cur["last_ts"] is None or utc(newest) >= cur["last_ts"]:  # type: ignore[operator]
                values.update(
                    last_ts=utc(newest),
                    value=sig.value,
                    limit=sig.limit,
                    details=self._details(sig, cur),
                )
            await self._update(session, cur, **values)
        if cur is None:
            return steps
        if sig.active and cur["ok_since"] is not None:
            # the condition came back before the hold time ran out: a flap
            flaps = [
                t
                for t in cur["flap_times"]
                if t > now - timedelta(seconds=self.s.flap_window_seconds)
            ]
            flaps.append(now)
            await self._update(session, cur, ok_since=None, flap_times=flaps)
            await self._mark_flapping(session, cur, now)
        elif not sig.active and cur["ok_since"] is None:
            await self._update(session, cur, ok_since=now)
        if cur["ok_since"] is not None and cur["state"] in ACTIVE:
            hold = max(cur["hold_s"], self.s.flap_window_seconds if cur["flapping"] else 0.0)
            if (now - cur["ok_since"]).total_seconds() >= hold:
                await self._clear(session, cur, now, actor=None, comment=None)
                steps += 1
        return steps

    def _details(self, sig: Signal, cur: dict[str, Any] | None = None) -> dict[str, Any]:
        d = dict(cur["details"]) if cur else {}
        d.update({k: v for k, v in sig.args.items() if isinstance(v, (int, float, str, bool))})
        return d

    async def _raise(self, session: AsyncSession, sig: Signal, now: datetime) -> dict[str, Any]:
        rule = sig.rule
        first, last = (
            (min(sig.occurrences), max(sig.occurrences)) if sig.occurrences else (None, None)
        )
        critical = rule.severity == "critical"
        obj = sig.point_code or sig.args.get("name") or sig.object_id
        row = {
            "id": str(uuid.uuid4()),
            "rule_id": rule.id,
            "rule_version": rule.version,
            "kind": rule.kind,
            "category": rule.category,
            "severity": rule.severity,
            "state": "raised",
            "object_type": sig.object_type,
            "object_id": sig.object_id,
            "subject_bin": sig.subject_bin,
            "facility_id": sig.facility_id,
            "facility_type": sig.facility_type,
            "region_kato": sig.region_kato,
            "point_code": sig.point_code,
            "quantity": sig.quantity,
            "message": message(rule.kind, str(obj), sig.args),
            "value": sig.value,
            "limit": sig.limit,
            "details": {"rule_name": rule.name, **self._details(sig)},
            "first_ts": utc(first),
            "last_ts": utc(last),
            "raised_at": now,
            "last_at": now,
            "count": max(1, len(sig.occurrences)),
            "late": sig.late,
            "ok_since": None,
            "hold_s": self._hold(sig),
            "flap_times": [],
            "flapping": False,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "cleared_at": None,
            "cleared_by": None,
            "closed_at": None,
            "closed_by": None,
            "shelved_until": None,
            "shelved_by": None,
            "escalation_level": 0,
            "next_escalation_at": now + timedelta(seconds=self.s.escalate_after_seconds)
            if critical
            else None,
            "next_reminder_at": now + timedelta(seconds=self.s.remind_every_seconds)
            if critical
            else None,
            "reminders": 0,
            "seq": 0,
        }
        await session.execute(insert(m.alarm).values(**row))
        self.open_keys.add(sig.key)
        await self._step(session, row, "raised", now)
        return row

    async def _reopen(
        self, session: AsyncSession, old: dict[str, Any], sig: Signal, now: datetime
    ) -> dict[str, Any]:
        flaps = [
            t for t in old["flap_times"] if t > now - timedelta(seconds=self.s.flap_window_seconds)
        ]
        flaps.append(now)
        critical = old["severity"] == "critical"
        await self._update(
            session,
            old,
            state="raised",
            cleared_at=None,
            cleared_by=None,
            acknowledged_at=None,
            acknowledged_by=None,
            ok_since=None,
            count=old["count"] + max(1, len(sig.occurrences)),
            last_ts=utc(max(sig.occurrences)) if sig.occurrences else old["last_ts"],
            last_at=now,
            value=sig.value,
            limit=sig.limit,
            flap_times=flaps,
            next_escalation_at=now + timedelta(seconds=self.s.escalate_after_seconds)
            if critical
            else None,
            next_reminder_at=now + timedelta(seconds=self.s.remind_every_seconds)
            if critical
            else None,
        )
        self.open_keys.add(sig.key)
        was_flapping = old["flapping"]
        await self._mark_flapping(session, old, now)
        await self._step(session, old, "reopened", now, notify=not was_flapping)
        return old

    async def _mark_flapping(self, session: AsyncSession, a: dict[str, Any], now: datetime) -> None:
        if not a["flapping"] and len(a["flap_times"]) >= self.s.flap_threshold:
            await self._update(session, a, flapping=True)
            await self._step(session, a, "flapping", now)

    async def _clear(
        self,
        session: AsyncSession,
        a: dict[str, Any],
        at: datetime,
        *,
        actor: str | None,
        comment: str | None,
    ) -> None:
        await self._update(
            session,
            a,
            state="cleared",
            cleared_at=at,
            cleared_by=actor,
            next_escalation_at=None,
            next_reminder_at=None,
        )
        self.open_keys.discard((str(a["rule_id"]), a["object_type"], a["object_id"]))
        await self._step(session, a, "cleared", at, actor=actor, comment=comment)
        if not a["flapping"]:
            return
        await self._update(session, a, flapping=False, flap_times=[])

    # -- time ----------------------------------------------------------------------------------------

    async def timers(self, session: AsyncSession, at: datetime, subject_bin: str | None) -> int:
        """Hold times, escalations, reminders, shelf ends and automatic closing, as of ``at``."""
        a = m.alarm
        steps = 0
        scope = [a.c.subject_bin == subject_bin] if subject_bin else []
        rows = (
            await session.execute(
                select(a)
                .where(
                    *scope,
                    or_(
                        and_(a.c.state.in_(ACTIVE), a.c.ok_since.is_not(None)),
                        and_(a.c.state == "raised", a.c.next_escalation_at <= at),
                        and_(a.c.state == "raised", a.c.next_reminder_at <= at),
                        a.c.shelved_until <= at,
                        and_(
                            a.c.state == "cleared",
                            a.c.acknowledged_at.is_not(None),
                            a.c.cleared_at <= at - timedelta(hours=self.s.auto_close_hours),
                        ),
                    ),
                )
                .order_by(a.c.raised_at)
                .limit(2000)
                .with_for_update(skip_locked=True)
            )
        ).mappings()
        for r in rows:
            cur = dict(r)
            if cur["shelved_until"] is not None and cur["shelved_until"] <= at:
                await self._update(session, cur, shelved_until=None, shelved_by=None)
                await self._step(session, cur, "unshelved", at)
                steps += 1
            if cur["state"] in ACTIVE and cur["ok_since"] is not None:
                hold = max(cur["hold_s"], self.s.flap_window_seconds if cur["flapping"] else 0.0)
                if (at - cur["ok_since"]).total_seconds() >= hold:
                    await self._clear(session, cur, at, actor=None, comment=None)
                    steps += 1
                    continue
            shelved = cur["shelved_until"] is not None
            if cur["state"] == "raised" and not shelved:
                nxt = cur["next_escalation_at"]
                if (
                    nxt is not None
                    and nxt <= at
                    and cur["escalation_level"] < self.s.max_escalation_level
                ):
                    level = cur["escalation_level"] + 1
                    more = level < self.s.max_escalation_level
                    await self._update(
                        session,
                        cur,
                        escalation_level=level,
                        next_escalation_at=nxt + timedelta(seconds=self.s.escalate_after_seconds)
                        if more
                        else None,
                    )
                    await self._step(session, cur, "escalated", at, details={"level": level})
                    steps += 1
                nxt = cur["next_reminder_at"]
                if nxt is not None and nxt <= at:
                    await self._update(
                        session,
                        cur,
                        reminders=cur["reminders"] + 1,
                        next_reminder_at=max(nxt, at - timedelta(seconds=1))
                        + timedelta(seconds=self.s.remind_every_seconds),
                    )
                    await self._step(
                        session, cur, "reminder", at, details={"reminder": cur["reminders"]}
                    )
                    steps += 1
            if (
                cur["state"] == "cleared"
                and cur["acknowledged_at"] is not None
                and cur["cleared_at"] <= at - timedelta(hours=self.s.auto_close_hours)
            ):
                await self._update(session, cur, state="closed", closed_at=at)
                await self._step(session, cur, "closed", at)
                steps += 1
        return steps

    # -- people ----------------------------------------------------------------------------------------

    async def get_for_update(
        self, session: AsyncSession, alarm_id: str, scope_bin: str | None
    ) -> dict[str, Any]:
        a = m.alarm
        try:
            uuid.UUID(alarm_id)
        except ValueError:
            raise NotFound(f"no alarm {alarm_id}", code="alarm_not_found") from None
        stmt = select(a).where(a.c.id == alarm_id).with_for_update()
        if scope_bin is not None:
            stmt = stmt.where(a.c.subject_bin == scope_bin)
        row = (await session.execute(stmt)).mappings().first()
        if row is None:
            raise NotFound(f"no alarm {alarm_id}", code="alarm_not_found")
        return dict(row)

    async def acknowledge(
        self, session: AsyncSession, a: dict[str, Any], user: str, comment: str | None, at: datetime
    ) -> None:
        if a["state"] == "closed" or a["acknowledged_at"] is not None:
            raise Conflict(
                f"the alarm is {a['state']}"
                + (f", acknowledged by {a['acknowledged_by']}" if a["acknowledged_by"] else "")
                + "; nothing to acknowledge",
                code="alarm_not_acknowledgeable",
            )
        values: dict[str, Any] = {
            "acknowledged_at": at,
            "acknowledged_by": user,
            "next_escalation_at": None,
            "next_reminder_at": None,
        }
        if a["state"] == "raised":
            values["state"] = "acknowledged"
        await self._update(session, a, **values)
        await self._step(session, a, "acknowledged", at, actor=user, comment=comment)

    async def clear_by_hand(
        self, session: AsyncSession, a: dict[str, Any], user: str, comment: str | None, at: datetime
    ) -> None:
        if a["state"] not in ACTIVE:
            raise Conflict(f"the alarm is already {a['state']}", code="alarm_not_active")
        await self._clear(session, a, at, actor=user, comment=comment)

    async def close(
        self, session: AsyncSession, a: dict[str, Any], user: str, comment: str | None, at: datetime
    ) -> None:
        if a["state"] != "cleared":
            raise Conflict(
                f"the alarm is {a['state']}; clear it before closing it", code="alarm_not_cleared"
            )
        await self._update(session, a, state="closed", closed_at=at, closed_by=user)
        await self._step(session, a, "closed", at, actor=user, comment=comment)

    async def shelve(
        self,
        session: AsyncSession,
        a: dict[str, Any],
        user: str,
        until: datetime,
        comment: str | None,
        at: datetime,
    ) -> None:
        if a["state"] == "closed":
            raise Conflict("a closed alarm cannot be shelved", code="alarm_closed")
        if until <= at or until > at + timedelta(days=30):
            raise Unprocessable(
                "until: must be in the future and at most 30 days ahead",
                errors=[FieldError("until", "invalid", "in the future, at most 30 days ahead")],
            )
        await self._update(session, a, shelved_until=until, shelved_by=user)
        await self._step(
            session,
            a,
            "shelved",
            at,
            actor=user,
            comment=comment,
            details={"until": until.isoformat()},
        )

    async def unshelve(
        self, session: AsyncSession, a: dict[str, Any], user: str, comment: str | None, at: datetime
    ) -> None:
        if a["shelved_until"] is None:
            raise Conflict("the alarm is not shelved", code="alarm_not_shelved")
        await self._update(session, a, shelved_until=None, shelved_by=None)
        await self._step(session, a, "unshelved", at, actor=user, comment=comment)

    async def comment(
        self, session: AsyncSession, a: dict[str, Any], user: str, comment: str, at: datetime
    ) -> None:
        await self._step(session, a, "comment", at, actor=user, comment=comment)

    async def close_for_rule(
        self, session: AsyncSession, rule_id: str, user: str, at: datetime
    ) -> int:
        """A disabled rule's active alarms are cleared (they can no longer clear by themselves)."""
        a = m.alarm
        rows = (
            await session.execute(
                select(a).where(a.c.rule_id == rule_id, a.c.state.in_(ACTIVE)).with_for_update()
            )
        ).mappings()
        n = 0
        for r in rows:
            await self._clear(session, dict(r), at, actor=user, comment="rule disabled")
            n += 1
        return n


def object_type_of(kind: str) -> str:
    return OBJECT_OF_KIND.get(kind, "point")
