"""Events lending publishes on ``lending.loans.v1`` beyond ``LoanQuoted`` (owned by lending,
published in ``carbon_common.events``); re-exported here for the service's own modules."""

from carbon_common.events import LoanAlert, LoanRepriced

__all__ = ["LoanAlert", "LoanRepriced"]
