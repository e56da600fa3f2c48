"""``egsu audit``: search and verify archived months, check inclusion proofs offline.

    egsu audit search --archive --from 2024-01-01T00:00+05:00 --actor operator
    egsu audit verify-archive
    egsu audit verify-proof proof.json --public-key audit-public.pem
    egsu audit public-key > audit-public.pem

The object store is reached with the usual ``EGSU_S3_*`` variables. Proofs need no network at
all: only the proof file and the audit service's public key.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from egsu.audit.records import month_of, view_of
from egsu.audit.signing import Keyring, load_public_key

app = typer.Typer(
    help="The audit journal: search and verify archived months, check inclusion proofs offline.",
    no_args_is_help=True,
)

PUBLIC_KEY = typer.Option(
    None,
    "--public-key",
    help="A trusted audit public key (PEM); repeat for earlier keys. "
    "Default: the key configured for the audit service (EGSU_AUDIT_SIGNING_KEY_FILE).",
)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def keyring_of(paths: list[Path] | None) -> Keyring:
    if paths:
        return Keyring.of(*(load_public_key(p.read_bytes()) for p in paths))
    from egsu.audit.config import AuditSettings

    settings = AuditSettings()
    path = settings.signing_key_path()
    if not path.exists():
        raise typer.BadParameter(
            f"no audit key at {path}; pass the audit service's public key "
            "(GET /api/v1/audit/public-key)",
            param_hint="--public-key",
        )
    extra = [load_public_key(p.read_bytes()) for p in settings.audit_trusted_public_keys]
    return Keyring.of(load_public_key(path.read_bytes()), *extra)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value if len(value) > 7 else value + "-01")
    except ValueError:
        raise typer.BadParameter(
            "use ISO 8601: 2024-01, 2024-01-31 or 2024-01-31T10:00+05:00", param_hint=name
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@app.command("verify-proof")
def verify_proof_command(
    proof: Path = typer.Argument(
        ..., help="The proof JSON (GET /api/v1/audit/entries/{id}/proof); - reads stdin."
    ),
    public_key: list[Path] = PUBLIC_KEY,
) -> None:
    """Check an inclusion proof offline: entry hash, Merkle path, checkpoint signature."""
    from egsu.audit.proofs import verify_proof

    try:
        data = json.loads(sys.stdin.read() if str(proof) == "-" else proof.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read the proof: {exc}", param_hint="PROOF") from None
    result = verify_proof(data, keyring_of(public_key))
    if not result.ok:
        typer.echo(f"FAILED: {result.detail}")
        raise typer.Exit(1)
    typer.echo(f"OK: {result.detail}")


@app.command("public-key")
def public_key_command() -> None:
    """Print the audit service's public key (PEM) for offline verification."""
    from egsu.audit.config import AuditSettings
    from egsu.audit.signing import public_pem

    path = AuditSettings().signing_key_path()
    typer.echo(public_pem(load_public_key(path.read_bytes())), nl=False)


def _matches(rec: dict[str, Any], f: dict[str, Any]) -> bool:
    if f["from"] and rec["occurred_at"] < f["from"]:
        return False
    if f["to"] and rec["occurred_at"] >= f["to"]:
        return False
    if f["actor"] and f["actor"] not in (rec["actor_username"], rec["actor_user_id"]):
        return False
    fields = (
        "actor_role",
        "subject_bin",
        "kind",
        "action",
        "object_id",
        "outcome",
        "service",
        "request_id",
    )
    return all(f[c] is None or rec[c] == f[c] for c in fields)


async def _search(months: list[date], keyring: Keyring, f: dict[str, Any], out: Any) -> int:
    from egsu.audit.archive import read_segment
    from egsu.audit.config import AuditSettings
    from egsu.storage import ObjectStore

    store = ObjectStore(AuditSettings())
    failed = 0
    for m in months:
        found: list[dict[str, Any]] = []

        def keep(r: dict[str, Any], found: list[dict[str, Any]] = found) -> None:
            if _matches(r, f):
                found.append(r)

        report = await read_segment(store, keyring, m, on_record=keep)
        if report.status != "ok":
            failed += 1
            _err(
                f"{report.month}: FAILED verification — {'; '.join(report.problems)} "
                "(its entries are not shown)"
            )
            continue
        _err(f"{report.month}: {report.entries} entries verified, {len(found)} match")
        for rec in found:
            out(rec)
    return failed


@app.command()
def search(
    archive: bool = typer.Option(
        False, "--archive", help="Search the archived months in the object store."
    ),
    time_from: str = typer.Option(
        None, "--from", help="Events at or after (2024-01, 2024-01-31T10:00+05:00)."
    ),
    time_to: str = typer.Option(None, "--to", help="Events before."),
    actor: str = typer.Option(None, help="Username or user id."),
    role: str = typer.Option(None),
    bin: str = typer.Option(None, help="The actor's subject BIN/IIN."),
    kind: str = typer.Option(None, help="access, auth, change, control, security, abnormal."),
    action: str = typer.Option(None),
    object: str = typer.Option(None, "--object", help="The object's id."),
    outcome: str = typer.Option(None, help="success, failure, denied."),
    service: str = typer.Option(None),
    request_id: str = typer.Option(None),
    output: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    public_key: list[Path] = PUBLIC_KEY,
) -> None:
    """Search the journal's archived months; every month read is verified first."""
    if not archive:
        raise typer.BadParameter(
            "the online journal (the last 12 months and more) is searched through "
            "GET /api/v1/audit/entries; pass --archive to search the months archived to the "
            "object store",
            param_hint="--archive",
        )
    if output not in ("jsonl", "csv"):
        raise typer.BadParameter("jsonl or csv", param_hint="--format")
    start, end = _when(time_from, "--from"), _when(time_to, "--to")
    f = {
        "from": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if start else None,
        "to": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if end else None,
        "actor": actor,
        "actor_role": role,
        "subject_bin": bin,
        "kind": kind,
        "action": action,
        "object_id": object,
        "outcome": outcome,
        "service": service,
        "request_id": request_id,
    }
    keyring = keyring_of(public_key)

    async def main() -> int:
        from egsu.audit.archive import archived_months
        from egsu.audit.config import AuditSettings
        from egsu.storage import ObjectStore

        months = await archived_months(ObjectStore(AuditSettings()))
        # an event is recorded after it happens (up to the stream's 30 days later)
        if start:
            months = [m for m in months if m >= month_of(start - timedelta(days=1))]
        if end:
            months = [m for m in months if m <= month_of(end + timedelta(days=32))]
        if output == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(
                [
                    "seq",
                    "id",
                    "time",
                    "recorded_at",
                    "kind",
                    "service",
                    "action",
                    "outcome",
                    "actor_username",
                    "actor_role",
                    "subject_bin",
                    "object_type",
                    "object_id",
                    "request_id",
                    "source_ip",
                    "details",
                    "hash",
                ]
            )

            def out(r: dict[str, Any]) -> None:
                writer.writerow(
                    [
                        r["seq"],
                        r["event_id"],
                        r["occurred_at"],
                        r["recorded_at"],
                        r["kind"],
                        r["service"],
                        r["action"],
                        r["outcome"],
                        r["actor_username"],
                        r["actor_role"],
                        r["subject_bin"],
                        r["object_type"],
                        r["object_id"],
                        r["request_id"],
                        r["source_ip"],
                        r["details"],
                        r["hash"],
                    ]
                )
        else:

            def out(r: dict[str, Any]) -> None:
                typer.echo(json.dumps(view_of(r), ensure_ascii=False))

        if not months:
            _err("no archived month matches")
        return await _search(months, keyring, f, out)

    if asyncio.run(main()):
        raise typer.Exit(1)


@app.command("verify-archive")
def verify_archive(public_key: list[Path] = PUBLIC_KEY) -> None:
    """Verify every archived month and that each continues the chain of the month before."""
    keyring = keyring_of(public_key)

    async def main() -> int:
        from egsu.audit.archive import archived_months, read_segment
        from egsu.audit.config import AuditSettings
        from egsu.storage import ObjectStore

        store = ObjectStore(AuditSettings())
        failed, last_hash = 0, None
        for m in await archived_months(store):
            report = await read_segment(store, keyring, m)
            if report.entries and last_hash is not None and report.first_prev_hash != last_hash:
                report.fail(
                    "it does not continue the chain of the month before "
                    "(a month is missing or replaced)"
                )
            if report.entries:
                last_hash = report.last_hash
            if report.status == "ok":
                typer.echo(
                    f"{report.month}: ok, {report.entries} entries "
                    f"({report.first_seq}..{report.last_seq})"
                )
            else:
                failed += 1
                typer.echo(f"{report.month}: FAILED — {'; '.join(report.problems)}")
        return failed

    if asyncio.run(main()):
        raise typer.Exit(1)
