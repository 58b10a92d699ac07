"""Inter-agency exchange (liên thông văn bản): signed edXML packages (QCVN 102:2016), the
agency directory, the inbox and the outbox, behind a transport interface.

The outbox is :mod:`.outbox` (queueing, the subscriber to every lifecycle step, history;
the import path for all of it), :mod:`.packets` (building and signing packages),
:mod:`.messages` (status rows queued and refusals recorded) and :mod:`.delivery` (the
leased delivery loop). The exchange depends on :mod:`edms.documents` through its public
API only; the documents never import the exchange: they announce their steps
(:mod:`edms.events`) and the exchange listens.
"""
