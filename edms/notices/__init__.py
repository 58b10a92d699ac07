"""Notices (thông báo): telling citizens and staff what happened, by e-mail and through
webhooks (SMS and Zalo gateways, other systems).

* :mod:`.catalog` — the notices there are, who they are for, their Vietnamese wording (an
  administrator may rewrite it; placeholders are checked when saved);
* :mod:`.outbox` — the subscriber (edms.events) that turns a domain event into notices, in
  the event's own transaction: one per recipient and channel, honouring each person's
  channels, the notices they turned off and their quiet hours;
* :mod:`.delivery` — the delivery loop: SMTP for e-mail, signed JSON (HMAC-SHA256) for
  webhooks, leases, retries with back-off, the delivery log, replay;
* :mod:`.admin` — webhooks (sealed secrets), templates, quiet hours, preferences, the log;
* :mod:`.daily` — the checks that find notices nobody's step raises: documents due on the
  next working day or overdue, dossiers late.
"""
