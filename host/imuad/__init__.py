"""imuad: on-device anomaly detection for rotating machinery (host tooling)."""

__version__ = "0.1.0"
