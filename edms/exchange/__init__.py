"""Inter-agency exchange (liên thông văn bản): signed edXML packages (QCVN 102:2016), the
agency directory, the inbox and the outbox, behind a transport interface."""
