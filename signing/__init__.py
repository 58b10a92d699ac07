"""The PAdES signing engine: keys (PKCS#12, PKCS#11, remote), levels B-B to B-LTA,
Decree-30 appearances, the development PKI. No Flask, no database.

Modules: ``engine`` (sign), ``appearance`` (Decree-30 layouts), ``forms`` (fill the
number/date fields), ``ltv`` (extend to B-LT/B-LTA), ``keys``, ``remote``, ``fonts``,
``devpki``/``devimages``/``devservices`` (development only).
"""
