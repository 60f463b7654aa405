"""Published event contracts (producer-owned, versioned) and the CloudEvents envelope."""

from carbon_common.events.contracts import (
    EVENT_TYPES,
    AccountUpdated,
    EnterpriseRegistered,
    EnterpriseUpdated,
    FactRecorded,
    LoanAlert,
    LoanQuoted,
    LoanRepriced,
    ObjectionChanged,
    RatingIssued,
)
from carbon_common.events.envelope import ContractError, Envelope, Event, decode, encode
from carbon_common.events.topics import Topics

__all__ = [
    "EVENT_TYPES",
    "AccountUpdated",
    "ContractError",
    "EnterpriseRegistered",
    "EnterpriseUpdated",
    "Envelope",
    "Event",
    "FactRecorded",
    "LoanAlert",
    "LoanQuoted",
    "LoanRepriced",
    "ObjectionChanged",
    "RatingIssued",
    "Topics",
    "decode",
    "encode",
]
