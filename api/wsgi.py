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
if not _system.settings.redis_url:
    # Without Redis the service is its own worker: it runs the periodic maintenance (the
    # daily archive renewal); leases keep each run to one process.
    from edms.maintenance import Scheduler

    Scheduler(_system).start()
