"""Pilot dataset generator and replayer (issue 6): a province's worth of realistic submissions.

``generate()`` builds the Shanxi pilot (1,122 enterprises, 45 months) deterministically from a
seed; ``replay_http`` / ``replay_kafka`` feed it into a running bureau. The CLI (``cli.app``)
wraps both.
"""

from __future__ import annotations

from .dataset import PilotDataset
from .generator import generate
from .replay import ReplayResult, replay_http, replay_kafka

__all__ = ["PilotDataset", "ReplayResult", "generate", "replay_http", "replay_kafka"]
