# MicroPython side of the shared C8 vectors: device/micropython/esp32/imuad_app.py packs event
# payloads, ble_alert.py packs the status and parses control writes (tests/gateway/test_c8_vectors.py).
# argv: esp32_dir stubs_dir vectors.json model_dir out.json
import json
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import imuad  # noqa: E402
from ble_alert import BleAlert  # noqa: E402
from imuad_app import event_payload  # noqa: E402

with open(sys.argv[3]) as f:
    vec = json.load(f)
with open(sys.argv[4] + "/model_card.json") as f:
    card = json.load(f)
with open(sys.argv[4] + "/model.tflite", "rb") as f:
    detector = imuad.Detector.from_card(f.read(), card)


def hexs(b):
    return "".join("%02x" % x for x in b)


out = {"events": [], "status": [], "control": []}
for e in vec["events"]:
    out["events"].append(hexs(event_payload(e["kind"], e["state"], e["seq"], e["uptime_ms"], e["score"],
                                            e["model_id"], e["flags"])))
for s in vec["status"]:
    a = BleAlert(detector, fw_version=s["fw_version"])
    a.state = s["state"]
    a.decision = (s["threshold_on"], s["threshold_off"], s["k"], s["n"])
    a.backlog = [event_payload(1, 1, s["last_seq"], 0, 0, s["model_id"])] * s["backlog"]
    a.last_seq, a.acked, a.overflows = s["last_seq"], s["acked_seq"], s["overflows"]
    a._update_status()
    out["status"].append(hexs(a.status.value))
for c in vec["control"]:
    a = BleAlert(detector)
    notified = []
    a._notify = lambda p, notified=notified: notified.append(p)
    seqs = sorted(set([0, 5, 6, 0x01020304, 0xFFFFFFFF]))
    a.backlog = [event_payload(1, 1, q, 0, 0, 0) for q in seqs]
    a._control(bytes(int(c["hex"][i:i + 2], 16) for i in range(0, len(c["hex"]), 2)))
    out["control"].append({"acked": a.acked, "decision": list(a.decision),
                           "backlog": [int.from_bytes(p[4:8], "little") for p in a.backlog],
                           "notified": [int.from_bytes(p[4:8], "little") for p in notified]})
with open(sys.argv[5], "w") as f:
    json.dump(out, f)
print("OK")
