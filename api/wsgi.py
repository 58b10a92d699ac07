"""WSGI entry point for gunicorn: ``gunicorn api.wsgi:app``."""

from edms.config import load_dotenv_file

from . import create_app

load_dotenv_file()
app = create_app()
