# MicroPython side of benchmarks/micropython_feed.py: samples/s through Detector.feed for several
# chunk sizes (samples per call). argv: model card counts_file chunk_samples,... repeats
import json
import sys
import time

import imuad

model = open(sys.argv[1], "rb").read()
card = json.load(open(sys.argv[2]))
data = open(sys.argv[3], "rb").read()
sizes = [int(s) for s in sys.argv[4].split(",")]
repeats = int(sys.argv[5])
det = imuad.Detector.from_card(model, card)
frame = 2 * len(card["channels"])
n_samples = len(data) // frame
mv = memoryview(data)
out = {}
for size in sizes:
    step = size * frame
    best = None
    for _ in range(repeats):
        det.reset()
        windows = 0
        t0 = time.ticks_us()
        for i in range(0, len(data), step):
            res, evs = det.feed(mv[i:i + step])
            windows += len(res)
        dt = time.ticks_diff(time.ticks_us(), t0) / 1e6
        best = dt if best is None or dt < best else best
    out[str(size)] = {"seconds": best, "samples_per_s": n_samples / best, "windows": windows}
print(json.dumps(out))
