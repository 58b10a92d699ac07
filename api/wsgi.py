"""WSGI entry point for gunicorn: ``gunicorn api.wsgi:app``."""

from edms.config import load_dotenv_file

from . import create_app

load_dotenv_file()
app = create_app()
_system = app.extensions["edms"]
if _system.settings.exchange_pump:
    # The exchange's delivery loop runs in every serving process (leases keep each packet
    # to one sender at a time).
    from edms.exchange.outbox import Pump

    Pump(_system).start()
