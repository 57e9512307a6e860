# MicroPython (unix port) side of the parity test: stream a raw int16 recording through
# imuad.Detector.feed in chunks of varying byte sizes (odd sizes split samples and even int16s),
# alternating bytes and array('h') inputs. argv[1]: JSON config; writes <out>.json + <out>.bin.
import array
import json
import sys

import imuad

cfg = json.load(open(sys.argv[1]))
with open(cfg["model"], "rb") as f:
    model = f.read()
with open(cfg["card"]) as f:
    card = json.load(f)
det = imuad.Detector.from_card(model, card)
info = det.info()
chunks = cfg["chunks"]  # byte sizes, cycled
windows = []
events = []
outs = open(cfg["out"] + ".bin", "wb")
i = 0
with open(cfg["counts"], "rb") as f:
    while True:
        n = chunks[i % len(chunks)]
        i += 1
        if n % 2 == 0 and i % 2 == 0:
            buf = array.array("h", [0] * (n // 2))  # int16 array input, filled in place
            got = f.readinto(buf)
            if got == 0:
                break
            if got < n:
                buf = bytes(memoryview(buf))[:got]  # the last read may be odd-sized
        else:
            buf = f.read(n)
            if not buf:
                break
        res, evs = det.feed(buf)
        for w, score, state, out in res:
            if w != len(windows):
                raise SystemExit("window index %d out of order (expected %d)" % (w, len(windows)))
            windows.append([w, score, state])
            outs.write(out)
        for e in evs:
            events.append(list(e))
outs.close()
with open(cfg["out"] + ".json", "w") as f:
    json.dump({"windows": windows, "events": events, "ops": list(info["ops"]),
               "arena_used": info["arena_used"], "arena_size": info["arena_size"],
               "sha256": "".join("%02x" % b for b in info["sha256"]),
               "pending": det.info()["pending_bytes"]}, f)
print("OK", len(windows), len(events))
