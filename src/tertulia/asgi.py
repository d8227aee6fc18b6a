"""ASGI entry point for uvicorn / gunicorn: ``tertulia.asgi:app``."""

from tertulia.app import create_app

app = create_app()
