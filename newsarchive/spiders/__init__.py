"""Spiders: one generic class, and one subclass per registry outlet (see ``outlets``)."""
