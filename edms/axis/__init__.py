"""This installation as an exchange axis (hub mode): the systems connected to it
(:mod:`.systems`) and the VDXP protocol it serves under ``/vdxp`` (:mod:`.hub`: the entry
point and its invariants; :mod:`.calls`: authentication and what every operation shares;
:mod:`.directory`, :mod:`.sending`, :mod:`.receiving`: the operations)."""
