"""Event → command mapping of the accounting consumer.

The batch handler and the mapping live in ``carbon_accounting.adapters.consumer`` because the
composition root (``bootstrap``) wires the subscription and the layer contract forbids it to
import ``entrypoints``. This module re-exports them for readers looking in the usual place.
"""

from __future__ import annotations

from carbon_accounting.adapters.consumer import GROUP, TOPICS, batch_handler, subscription, to_command

__all__ = ["GROUP", "TOPICS", "batch_handler", "subscription", "to_command"]
