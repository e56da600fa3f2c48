"""Corrections of readings (§48): proposed by one user, in force only after another confirms.

A correction names a point, a quantity, an interval range and either new values or "re-estimate"
(values computed at once from the neighbours, so the reviewer sees what would be applied). It is
``pending`` and changes nothing. A *different* operator or ministry user confirms it — then every
value becomes a new current version (origin ``edited``, quality ``edited``, ``correction_id``
set), the old versions stay, the roll-ups of every level follow and a ``readings.corrected``
notice goes out — or rejects it with a comment. Every step is a ``control`` audit event written
before the transaction commits: if the journal cannot take it, nothing happens (fail closed).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
import orjson

from egsu.auth import Principal
from egsu.bus.audit import AuditLog
from egsu.contracts.readings import ReadingsCorrected
from egsu.contracts.streams import READINGS_CORRECTED
from egsu.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from egsu.measurements import rollups, vee_io
from egsu.measurements.catalog import Catalog, Point
from egsu.measurements.points import series_spec
from egsu.measurements.quality import ACTUAL, EDIT, EDITED, NAMES, VALID
from egsu.measurements.schemas import CorrectionCreate
from egsu.measurements.vee import estimate as E
from egsu.measurements.vee.config import RuleBook
from egsu.measurements.vee.engine import Frame, Series
from egsu.runtime.outbox import enqueue_raw

RE_ESTIMATE_REASON = 0  # estimates made for a correction carry no rule bits


def _bad(field: str, message: str, code: str = "invalid") -> Unprocessable:
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field, code, message)])


def _who(p: Principal) -> dict[str, Any]:
    return {"user_id": p.user_id, "username": p.username, "role": p.role, "bin": p.bin}


def _iso(t: float | datetime | None) -> str | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return t.astimezone(UTC).isoformat()
    return datetime.fromtimestamp(t, UTC).isoformat()


def grid_slots(point: Point, start: datetime, end: datetime) -> np.ndarray:
    step = point.interval_min * 60
    a = (int(start.timestamp()) // step + 1) * step
    b = int(end.timestamp()) // step * step
    return np.arange(a, b + 1, step, dtype=np.int64)


async def proposed_values(
    conn: asyncpg.Connection,
    catalog: Catalog,
    rulebook: RuleBook,
    infos: dict[str, Any],
    point: Point,
    qid: int,
    body: CorrectionCreate,
    max_intervals: int,
) -> list[dict[str, Any]]:
    """The values a correction would apply: the given ones (checked) or fresh estimates."""
    step = point.interval_min * 60
    lo, hi = body.start.timestamp(), body.end.timestamp()
    if (hi - lo) / step > max_intervals:
        raise _bad("to", f"the range holds more than {max_intervals} intervals")
    if not body.re_estimate:
        seen: set[float] = set()
        out = []
        for i, x in enumerate(body.values or []):  # per corrected value, as the user listed them
            t = x.ts.timestamp()
            if not lo < t <= hi:
                raise _bad(f"values[{i}].ts", "must lie in the range (from, to]")
            if t % step:
                raise _bad(
                    f"values[{i}].ts",
                    f"not on the point's {point.interval_min}-minute grid "
                    "(readings are stamped at the end of their interval)",
                )
            if t in seen:
                raise _bad(f"values[{i}].ts", "given twice")
            seen.add(t)
            out.append({"ts": _iso(t), "value": x.value})
        return sorted(out, key=lambda d: d["ts"])
    slots = grid_slots(point, body.start, body.end)
    if not len(slots):
        raise _bad("to", "the range holds no interval of the point")
    spec = series_spec(
        point.id,
        qid,
        catalog.quantity_codes[qid],
        point.commodity,
        point.interval_min,
        infos.get(point.code),
        rulebook,
    )
    ser = Series([spec])
    reach = int(spec.th.estimate_max_hours * 3600) + step
    ctx = await vee_io.context(
        conn,
        np.asarray([point.id]),
        np.asarray([qid]),
        np.asarray([int(lo) - reach]),
        np.asarray([int(hi) + reach]),
        np.asarray([int(lo) - reach]),
    )
    outside = (ctx.ts <= lo) | (ctx.ts > hi)
    f = Frame.build(
        np.zeros(int(outside.sum()), np.int64),
        ctx.ts[outside],
        ctx.value[outside],
        np.zeros(int(outside.sum()), bool),
        ctx.origin[outside] == ACTUAL,
        (ctx.origin[outside] == ACTUAL) & (ctx.quality[outside] == VALID),
    )
    tg = E.linear(E.targets_for_range(f, ser, 0, slots, RE_ESTIMATE_REASON), ser)
    ks, kt = E.profile_keys(tg, ser)
    if len(ks):
        vals = await vee_io.values_at(conn, ser.pid[ks], ser.qid[ks], kt)
        tg = E.profile(tg, ser, ks, kt, vals)
    if np.isnan(tg.value).any():
        raise _bad(
            "re_estimate",
            "the range cannot be estimated: it needs valid readings on both sides, no more than "
            f"{spec.th.estimate_max_hours:g} h apart (or give the values)",
            code="cannot_estimate",
        )
    return [
        {"ts": _iso(int(t)), "value": round(float(v), 9), "method": E.METHODS[int(m)]}
        for t, v, m in zip(tg.ts.tolist(), tg.value.tolist(), tg.method.tolist(), strict=True)
    ]


def correction_read(r: asyncpg.Record, point_code: str, quantity: str) -> dict[str, Any]:
    return {
        "id": r["id"],
        "status": r["status"],
        "point": point_code,
        "quantity": quantity,
        "subject_bin": r["subject_bin"],
        "from": _iso(r["ts_from"]),
        "to": _iso(r["ts_to"]),
        "mode": r["mode"],
        "values": orjson.loads(r["proposed"]),
        "reason_code": r["reason_code"],
        "comment": r["comment"],
        "requested_by": orjson.loads(r["requested_by"]),
        "requested_at": _iso(r["requested_at"]),
        "decided_by": orjson.loads(r["decided_by"]) if r["decided_by"] else None,
        "decided_at": _iso(r["decided_at"]),
        "decision_comment": r["decision_comment"],
        "applied": r["applied"],
    }


COLUMNS = (
    "id, point_id, quantity_id, subject_bin, ts_from, ts_to, mode, proposed::text AS proposed, reason_code, "
    "comment, status, requested_by::text AS requested_by, requested_at, decided_by::text AS decided_by, "
    "decided_at, decision_comment, applied"
)


class Corrections:
    """The correction workflow over the historian's pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        catalog: Catalog,
        audit: AuditLog,
        rulebook: RuleBook,
        relay: Any = None,
    ) -> None:
        self.pool, self.catalog, self.audit, self.rulebook, self.relay = (
            pool,
            catalog,
            audit,
            rulebook,
            relay,
        )

    def _names(self, r: asyncpg.Record) -> tuple[str, str]:
        p = self.catalog.by_id.get(r["point_id"])
        return (p.code if p else str(r["point_id"])), self.catalog.quantity_codes.get(
            r["quantity_id"], str(r["quantity_id"])
        )

    def read(self, r: asyncpg.Record) -> dict[str, Any]:
        return correction_read(r, *self._names(r))

    async def create(
        self,
        principal: Principal,
        point: Point,
        qid: int,
        body: CorrectionCreate,
        infos: dict[str, Any],
        max_intervals: int,
    ) -> dict[str, Any]:
        cid = str(uuid.uuid4())
        async with self.pool.acquire() as conn, conn.transaction():
            values = await proposed_values(
                conn, self.catalog, self.rulebook, infos, point, qid, body, max_intervals
            )
            row = await conn.fetchrow(
                f"""
                INSERT INTO measurements.correction (id, point_id, quantity_id, subject_bin, ts_from, ts_to, mode,
                  proposed, reason_code, comment, status, requested_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, 'pending', $11::jsonb)
                RETURNING {COLUMNS}
                """,
                cid,
                point.id,
                qid,
                point.subject_bin,
                body.start,
                body.end,
                "re_estimate" if body.re_estimate else "values",
                orjson.dumps(values).decode(),
                body.reason_code,
                body.comment,
                orjson.dumps(_who(principal)).decode(),
            )
            out = self.read(row)
            await self.audit.record(
                "control",
                "measurements.correction.requested",
                principal=principal,
                object_type="correction",
                object_id=cid,
                after={
                    k: out[k]
                    for k in ("point", "quantity", "from", "to", "mode", "reason_code", "comment")
                }
                | {"count": len(values)},
            )
        return out

    async def _locked(
        self, conn: asyncpg.Connection, cid: str, principal: Principal
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM measurements.correction WHERE id = $1 FOR UPDATE", cid
        )
        if row is None or not principal.can_see_subject(row["subject_bin"]):
            raise NotFound(f"no correction {cid}", code="correction_not_found")
        if row["status"] != "pending":
            raise Conflict(
                f"correction {cid} is already {row['status']}", code="correction_not_pending"
            )
        author = orjson.loads(row["requested_by"])
        if author.get("user_id") == principal.user_id:
            raise Forbidden(
                "the author of a correction cannot confirm or reject it; another operator or "
                "ministry user must decide",
                code="own_correction",
            )
        return row

    async def confirm(self, principal: Principal, cid: str, comment: str | None) -> dict[str, Any]:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._locked(conn, cid, principal)
            values = orjson.loads(row["proposed"])
            applied = await apply_values(
                conn, self.catalog, row["point_id"], row["quantity_id"], values, cid, row
            )
            decided = await conn.fetchrow(
                f"""
                UPDATE measurements.correction SET status = 'confirmed', decided_by = $2::jsonb, decided_at = now(),
                  decision_comment = $3, applied = $4 WHERE id = $1 RETURNING {COLUMNS}
                """,
                cid,
                orjson.dumps(_who(principal)).decode(),
                comment,
                applied,
            )
            out = self.read(decided)
            notice = ReadingsCorrected(
                correction_id=cid,
                subject_bin=out["subject_bin"],
                point=out["point"],
                quantity=out["quantity"],
                ts_from=decided["ts_from"],
                ts_to=decided["ts_to"],
                count=applied,
                reason_code=out["reason_code"],
                confirmed_at=decided["decided_at"],
            )
            await enqueue_raw(
                conn,
                "measurements",
                f"{READINGS_CORRECTED}.{out['subject_bin']}",
                notice,
                f"corrected-{cid}",
            )
            await self.audit.record(
                "control",
                "measurements.correction.confirmed",
                principal=principal,
                object_type="correction",
                object_id=cid,
                before={"status": "pending"},
                after={"status": "confirmed", "applied": applied, "comment": comment},
                requested_by=out["requested_by"].get("username"),
            )
        if self.relay is not None:
            self.relay.poke()
        return out

    async def reject(self, principal: Principal, cid: str, comment: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn, conn.transaction():
            await self._locked(conn, cid, principal)
            decided = await conn.fetchrow(
                f"""
                UPDATE measurements.correction SET status = 'rejected', decided_by = $2::jsonb, decided_at = now(),
                  decision_comment = $3, applied = 0 WHERE id = $1 RETURNING {COLUMNS}
                """,
                cid,
                orjson.dumps(_who(principal)).decode(),
                comment,
            )
            out = self.read(decided)
            await self.audit.record(
                "control",
                "measurements.correction.rejected",
                principal=principal,
                object_type="correction",
                object_id=cid,
                before={"status": "pending"},
                after={"status": "rejected", "comment": comment},
                requested_by=out["requested_by"].get("username"),
            )
        return out

    async def get(self, principal: Principal, cid: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM measurements.correction WHERE id = $1", cid
            )
            if row is None or not principal.can_see_subject(row["subject_bin"]):
                raise NotFound(f"no correction {cid}", code="correction_not_found")
            out = self.read(row)
            out["current"] = await self._current(conn, row)
        return out

    async def _current(self, conn: asyncpg.Connection, row: asyncpg.Record) -> list[dict[str, Any]]:
        """The readings the correction covers as they are now (old → new for the reviewer)."""
        rows = await conn.fetch(
            "SELECT ts, value, quality, version, origin FROM measurements.reading "
            "WHERE point_id = $1 AND quantity_id = $2 AND current AND ts > $3 AND ts <= $4 ORDER BY ts",
            row["point_id"],
            row["quantity_id"],
            row["ts_from"],
            row["ts_to"],
        )
        return [
            {
                "ts": _iso(r["ts"]),
                "value": r["value"],
                "quality": NAMES[r["quality"]],
                "version": r["version"],
            }
            for r in rows
        ]

    async def list(
        self,
        principal: Principal,
        status: str | None,
        point_id: int | None,
        subject_bin: str | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        scope = principal.scope_bin
        if scope is not None:
            subject_bin = scope
        after_at, after_id = None, None
        if cursor:
            try:
                at, after_id = cursor.split("|", 1)
                after_at = datetime.fromisoformat(at)
            except ValueError as exc:
                raise _bad("cursor", "not a cursor of this list") from exc
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {COLUMNS} FROM measurements.correction
                WHERE ($1::text IS NULL OR status = $1) AND ($2::int IS NULL OR point_id = $2)
                  AND ($3::text IS NULL OR subject_bin = $3)
                  AND ($4::timestamptz IS NULL OR (requested_at, id) < ($4, $5))
                ORDER BY requested_at DESC, id DESC LIMIT $6
                """,
                status,
                point_id,
                subject_bin,
                after_at,
                after_id,
                limit + 1,
            )
        items = [self.read(r) for r in rows[:limit]]
        nxt = None
        if len(rows) > limit:
            last = rows[limit - 1]
            nxt = f"{last['requested_at'].isoformat()}|{last['id']}"
        return {"items": items, "next_cursor": nxt}


async def apply_values(
    conn: asyncpg.Connection,
    catalog: Catalog,
    point_id: int,
    qid: int,
    values: list[dict[str, Any]],
    correction_id: str,
    row: asyncpg.Record,
) -> int:
    """New current versions with the corrected values; the roll-ups follow."""
    if not values:
        return 0
    ts = np.asarray([datetime.fromisoformat(v["ts"]).timestamp() for v in values])
    new = np.asarray([float(v["value"]) for v in values])
    r = await conn.fetchrow(
        """
        SELECT array_agg(k.i ORDER BY k.i), array_agg(x.maxv ORDER BY k.i), array_agg(c.value ORDER BY k.i),
               array_agg(c.quality ORDER BY k.i), array_agg(c.version ORDER BY k.i)
        FROM unnest($3::float8[], $4::int[]) AS k(t, i)
        CROSS JOIN LATERAL (SELECT max(version) AS maxv FROM measurements.reading r
                            WHERE r.point_id = $1 AND r.quantity_id = $2 AND r.ts = to_timestamp(k.t)) x
        LEFT JOIN measurements.reading c ON c.point_id = $1 AND c.quantity_id = $2 AND c.ts = to_timestamp(k.t)
             AND c.current
        """,
        point_id,
        qid,
        ts.tolist(),
        list(range(len(ts))),
    )
    maxv = np.asarray([0 if x is None else x for x in r[1]], np.int64)
    has_cur = np.asarray([x is not None for x in r[2]])
    cur_value = np.asarray([np.nan if x is None else x for x in r[2]], np.float64)
    cur_quality = np.asarray([-1 if x is None else x for x in r[3]], np.int64)
    cur_version = np.asarray([0 if x is None else x for x in r[4]], np.int64)
    n = len(ts)
    old = np.flatnonzero(has_cur)
    if len(old):
        await conn.execute(
            """
            UPDATE measurements.reading r SET current = false, superseded_at = now()
            FROM unnest($3::float8[], $4::int2[]) AS k(t, v)
            WHERE r.point_id = $1 AND r.quantity_id = $2 AND r.ts = to_timestamp(k.t) AND r.version = k.v
            """,
            point_id,
            qid,
            ts[old].tolist(),
            cur_version[old].tolist(),
        )
    await conn.execute(
        """
        INSERT INTO measurements.reading (point_id, quantity_id, ts, version, value, quality, rules, origin, current,
                                          correction_id)
        SELECT $1, $2, to_timestamp(t), v, x, $6, 0, $7, true, $8
        FROM unnest($3::float8[], $4::int2[], $5::float8[]) AS k(t, v, x)
        """,
        point_id,
        qid,
        ts.tolist(),
        (maxv + 1).tolist(),
        new.tolist(),
        EDITED,
        EDIT,
        correction_id,
    )
    edit = {
        "edit": {
            "correction_id": correction_id,
            "reason_code": row["reason_code"],
            "requested_by": orjson.loads(row["requested_by"]).get("username"),
        }
    }
    await vee_io.save_findings(
        conn,
        [point_id] * n,
        [qid] * n,
        ts.tolist(),
        (maxv + 1).tolist(),
        [0] * n,
        [edit] * n,
    )
    await rollups.apply(
        conn,
        catalog,
        rollups.Changes(
            np.full(n, point_id, np.int64),
            np.full(n, qid, np.int64),
            ts,
            has_cur,
            np.nan_to_num(cur_value),
            cur_quality,
            new,
            np.full(n, EDITED, np.int64),
        ),
    )
    return n
