"""``bureau``: the operator CLI of Carbon Bureau.

``bureau demo`` runs the embedded default, ``bureau stack`` the local Kafka + PostgreSQL,
``bureau services`` the four services as processes, ``bureau pilot`` the pilot dataset.
"""

from __future__ import annotations

import typer

from carbon_bureau import service_cli

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Carbon Bureau 碳征信 — embedded demo, local stack, services, pilot data.",
)


def token(
    org: str = typer.Option(..., help="bank id, department id or enterprise credit code"),
    scope: str = typer.Option(..., help='space-separated scopes, e.g. "quotes:write ratings:read"'),
    subject: str | None = typer.Option(None, help="defaults to the org"),
    ttl: int = typer.Option(8 * 3600, help="lifetime in seconds"),
) -> None:
    """Mint a development bearer token (signed with the public development key)."""
    from carbon_common.auth import mint_dev_token

    typer.echo(mint_dev_token(org, scope, subject, ttl))


def _attach() -> None:
    from carbon_bureau.demo import demo
    from carbon_bureau.stack.cli import app as stack_app

    app.command(help="Embedded default: one process, embedded PostgreSQL, pilot replay, APIs on :8000.")(demo)
    app.add_typer(stack_app, name="stack", help="The local real stack: Kafka (KRaft) + PostgreSQL.")
    app.command(help="Mint a development JWT: bureau token --org bank-a --scope 'quotes:write'.")(token)
    app.add_typer(service_cli.app, name="services", help="The four services as separate processes.")
    from carbon_bureau.dlq import app as dlq_app

    app.add_typer(dlq_app, name="dlq", help="Dead-letter topics: inspect, redrive.")
    from carbon_bureau.backfill import app as topics_app

    app.add_typer(topics_app, name="topics", help="Topic maintenance: backfill the credit-facts stream.")
    from carbon_bureau.bench.cli import app as bench_app

    app.add_typer(bench_app, name="bench", help="The pilot benchmark through the real stack (make bench).")
    try:
        from carbon_bureau.pilot.cli import app as pilot_app
    except ImportError:  # pragma: no cover - the generator is optional for the other commands
        return
    app.add_typer(pilot_app, name="pilot", help="Generate or replay the pilot dataset.")


def main() -> None:
    _attach()
    app()


if __name__ == "__main__":
    main()
