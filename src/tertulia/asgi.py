"""ASGI entry point for uvicorn / gunicorn: ``tertulia.asgi:app``.

Each server process (``--workers N`` spawns N) configures its logging here, before the app exists: the format
(``TERTULIA_LOG_FORMAT``) applies to uvicorn's own lines too. A root logger configured by the host already is kept.
"""

from tertulia.observability.logs import configure_logging

configure_logging()

from tertulia.app import create_app  # noqa: E402

app = create_app()
