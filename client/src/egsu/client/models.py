"""What the API answers and what it takes, as pydantic models.

Answers are read tolerantly (``extra="allow"``): a field the System adds later is kept on the
model, never an error. Events share their models with the System (``egsu.contracts``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from egsu.contracts.signatures import CmsVerifyResult


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Reading(BaseModel):
    """One interval reading: ``ts`` is the interval's end with its offset, ``unit`` optional."""

    model_config = ConfigDict(extra="forbid")
    point: str
    quantity: str
    ts: AwareDatetime
    value: float
    unit: str | None = None


class Rejected(_Answer):
    """A reading the System refused, with the field and the reason."""

    index: int
    field: str
    code: str
    message: str


class Receipt(_Answer):
    """Ingest's receipt: given once the System holds the batch durably."""

    receipt_id: str
    subject_bin: str
    status: str
    source: str
    received_at: datetime
    accepted_at: datetime | None = None
    sha256: str
    idempotency_key: str
    accepted: int
    rejected_count: int
    rejected: list[Rejected] = []
    events: int = 0
    points: int = 0
    ts_from: datetime | None = None
    ts_to: datetime | None = None
    document: dict[str, Any] | None = None
    exchange: dict[str, Any] | None = None  # an 80020 file: its header and each channel's outcome


class ReceiptSummary(_Answer):
    """A receipt as the list of receipts shows it."""

    receipt_id: str
    subject_bin: str
    status: str
    source: str
    received_at: datetime
    accepted: int
    rejected_count: int
    events: int = 0
    ts_from: datetime | None = None
    ts_to: datetime | None = None


class BatchStored(_Answer):
    """The historian has stored a receipt's batch."""

    receipt_id: str
    stored: bool
    deliveries: list[dict[str, Any]] = []


class SignedDocumentRead(_Answer):
    """A signed document as it was submitted (base64), with its receipt and signer."""

    receipt: Receipt
    document: dict[str, Any]
    cms: str
    data: str | None = None
    verification: CmsVerifyResult | None = None


class Report(_Answer):
    """A report's status and metadata; ``download`` is set once it is done."""

    id: str
    kind: str
    level: str
    scope: str | None = None
    period: dict[str, date]
    format: str
    language: str
    status: str  # queued | running | done | failed
    origin: str | None = None
    title: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    size: int | None = None
    sha256: str | None = None
    error: str | None = None
    download: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
