# Stand-in for asyncio on the unix port variant built without it: ble_alert.py imports it for its
# advertising/control tasks, which tests/gateway/test_c8_vectors.py does not run.
