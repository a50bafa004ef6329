"""Docker-free AWS emulation of this SAM application: the template deployed into moto."""
