"""This installation as an exchange axis (hub mode): the systems connected to it
(:mod:`.systems`) and the VDXP protocol it serves under ``/vdxp`` (:mod:`.hub`)."""
