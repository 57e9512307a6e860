"""The fleet: many gateways -> one MQTT broker -> `imuad fleet ingest` -> one PostgreSQL store.

schema (versioned PostgreSQL migrations) · ingest (MQTT shared subscription -> idempotent batches)
· simgw (simulated gateways for tests and benchmarks) · commands (the `imuad fleet` CLI).
"""
