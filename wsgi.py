"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``. Configuration comes from the environment."""
from marketplace.app import create_app

app = create_app()
