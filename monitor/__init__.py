"""recovery-monitor: the service (see docs/architecture.md for its rooms)."""

__version__ = "0.1.0"
