"""The typed Python client of EGSU TEK's public API (see README.md for a first post)."""

from egsu.client.auth import Auth, Bearer, ClientCredentials, Password, PrivateKeyJwt, TokenGrant
from egsu.client.client import EgsuClient, ReportFile
from egsu.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    EgsuClientError,
    FieldProblem,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ReportFailed,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    Unreachable,
    UnsupportedMediaType,
    WaitTimeout,
)
from egsu.client.keys import SigningKey
from egsu.client.models import (
    BatchStored,
    Reading,
    Receipt,
    ReceiptSummary,
    Rejected,
    Report,
    SignedDocumentRead,
)
from egsu.client.retry import NO_RETRY, Retry
from egsu.client.sync import SyncEgsuClient
from egsu.contracts.alarms import AlarmEvent

__all__ = [
    "NO_RETRY",
    "AlarmEvent",
    "ApiError",
    "Auth",
    "BadRequest",
    "BatchStored",
    "Bearer",
    "ClientCredentials",
    "Conflict",
    "EgsuClient",
    "EgsuClientError",
    "FieldProblem",
    "Forbidden",
    "NotFound",
    "Password",
    "PayloadTooLarge",
    "PrivateKeyJwt",
    "RateLimited",
    "Reading",
    "Receipt",
    "ReceiptSummary",
    "Rejected",
    "Report",
    "ReportFailed",
    "ReportFile",
    "Retry",
    "ServerError",
    "ServiceUnavailable",
    "SignedDocumentRead",
    "SigningKey",
    "SyncEgsuClient",
    "TokenGrant",
    "Unauthorized",
    "Unprocessable",
    "Unreachable",
    "UnsupportedMediaType",
    "WaitTimeout",
]
