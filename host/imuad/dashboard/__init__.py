"""Web dashboard over the gateway store (contract C9): devices, live scores, alerts, runs.

Imports only FastAPI/Starlette, Jinja2 and the standard library (never TensorFlow), so it
runs on the Raspberry Pi gateway.
"""
