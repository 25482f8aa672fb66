"""misp-modules-ng: a misp-modules compatible module server, MISP workflow modules and runner."""

__version__ = "0.1.0"
