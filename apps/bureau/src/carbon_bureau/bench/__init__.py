"""``make bench``: the pilot replay through the real stack, measured and verified (issue 6).

``runner.run_bench`` starts the four services as processes on fresh databases, replays the
pilot over HTTP, waits until lending's read model holds every rating, verifies the results
against the generator's independent recomputation, then measures fact-to-rating latency under
a paced load, the quote API and a raw aiokafka pass-through on the same broker. ``report``
writes ``docs/benchmarks.md`` and ``docs/benchmarks.json``; ``cli.app`` is the typer sub-app.
"""
