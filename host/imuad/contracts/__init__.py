"""Range checks of the numbers the contracts (docs/contracts.md) define.

Kept free of heavy imports (no numpy, no TensorFlow): the gateway and the dashboard use it
on a Raspberry Pi. `ranges` holds the mechanism and the integer widths of C8/C9;
`decision` holds contract C5.
"""
