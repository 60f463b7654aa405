"""Rating's event consumers.

The event → command mapping and the batch handler live in
``carbon_rating.service_layer.consumers`` because the composition root (``bootstrap``), which is
below ``entrypoints`` in the enforced layers, registers the subscription. Re-exported here so the
entrypoints folder lists every way into the service.
"""

from carbon_rating.service_layer.consumers import keeps, make_batch_handler, to_command

__all__ = ["keeps", "make_batch_handler", "to_command"]
