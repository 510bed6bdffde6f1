"""CLI verbs: one module each, discovered by :mod:`newsarchive.cli`."""
