# MicroPython side of the API fuzz + leak test. argv[1]: JSON config
# {"models": [[model_path, card_path], ...], "seed": int, "cases": int, "cycles": int}.
# Prints one line per finding class; the last line is "DONE ..." with memory figures.
import array
import gc
import json
import random
import sys

import imuad

cfg = json.load(open(sys.argv[1]))
random.seed(cfg["seed"])
MODELS = []
for mpath, cpath in cfg["models"]:
    with open(mpath, "rb") as f:
        m = f.read()
    with open(cpath) as f:
        MODELS.append((m, json.load(f)))

ALLOWED = ("ValueError", "TypeError", "MemoryError", "OverflowError")
seen = {}


def note(exc):
    name = type(exc).__name__
    if name not in ALLOWED:
        print("UNEXPECTED", name, exc)
    seen[name] = seen.get(name, 0) + 1


def kwargs_of(card):
    p = card["preprocessing"]
    s = card["score"]
    d = card["decision"]
    if s["kind"] == "recon_error":
        score = ("recon_error", s["in_mult"], s["out_mult"], s["shift"])
    else:
        score = ("class_prob", s["output_index"])
    return {"window": card["window"], "hop": card["hop"], "channels": len(card["channels"]),
            "threshold_on": d["threshold_on"], "threshold_off": d["threshold_off"], "k": d["k"], "n": d["n"],
            "preprocess": (p["min_rms"] if p["kind"] == "window_int" else p["offset"], p["multiplier"], p["shift"],
                           p["input_zero_point"], p["kind"]), "score": score}


JUNK = [-1, 0, 1, 2, 7, 8, 9, 31, 32, 33, 41, 255, 65535, 65536, 2**31 - 1, 2**31, -2**31 - 1, 10**30,
        None, "x", 3.5, (), [], [1, 2, 3], b"", True, ("class_prob",), ("recon_error", 1, 1, 99),
        ("nope", 0), ([0] * 9, [1] * 9, 16, 0), ([0], [0], 16, 0), ([0, 0, 0], [1, 1, 1], 0, 0)]


def rand_chunk(channels):
    kind = random.randint(0, 7)
    n = random.randint(0, 700)
    if kind == 0:
        return bytes(random.getrandbits(8) for _ in range(n))
    if kind == 1:
        return bytearray(random.getrandbits(8) for _ in range(n))
    if kind == 2:
        return array.array("h", [random.randint(-32768, 32767) for _ in range(n)])
    if kind == 3:
        return memoryview(array.array("h", [random.randint(-32768, 32767) for _ in range(n)]))
    if kind == 4:
        return array.array("b", [random.randint(-128, 127) for _ in range(n)])
    if kind == 5:
        return random.choice([array.array("f", [1.0, 2.0]), "text", 42, None, [1, 2], array.array("i", [1])])
    return bytes(n)


def exercise(det, channels, rounds):
    for _ in range(rounds):
        try:
            res, evs = det.feed(rand_chunk(channels))
            for w, score, state, out in res:
                assert state in (0, 1) and isinstance(out, bytes)
        except Exception as e:
            note(e)
        if random.randint(0, 9) == 0:
            det.reset()
    det.info()


def corrupt(model):
    kind = random.randint(0, 4)
    b = bytearray(model)
    if kind == 0:
        return bytes(b[: random.randint(0, len(b))])
    if kind == 1:
        for _ in range(random.randint(1, 8)):
            b[random.randint(0, len(b) - 1)] = random.getrandbits(8)
        return bytes(b)
    if kind == 2:
        return bytes(random.getrandbits(8) for _ in range(random.randint(0, 64))) + b"TFL3"
    if kind == 3:
        return b[:8] + bytes(random.getrandbits(8) for _ in range(len(b) - 8))
    return bytes(b)


created = 0
for case in range(cfg["cases"]):
    model, card = random.choice(MODELS)
    kw = kwargs_of(card)
    what = random.randint(0, 4)
    if cfg.get("trace"):
        print("case", case, what)
    try:
        if what == 0:
            for _ in range(random.randint(1, 3)):
                kw[random.choice(list(kw))] = random.choice(JUNK)
            det = imuad.Detector(model, **kw)
        elif what == 1:
            det = imuad.Detector(corrupt(model), **kw)
        elif what == 2:
            c = dict(card)
            key = random.choice(list(c))
            if random.randint(0, 1):
                del c[key]
            else:
                c[key] = random.choice(JUNK)
            det = imuad.Detector.from_card(model, c)
        elif what == 3:
            det = imuad.Detector.from_card(model, card, random.choice([16, 256, 1024, None, 100000]))
        else:
            det = imuad.Detector(model, **kw)
        created += 1
        exercise(det, kw["channels"] if isinstance(kw["channels"], int) else 3, random.randint(1, 6))
        if random.randint(0, 3) == 0:
            det.close()
            try:
                det.feed(b"\x00\x00")
                print("UNEXPECTED feed after close succeeded")
            except ValueError:
                pass
    except Exception as e:
        note(e)
    det = None
    if case % 50 == 0:
        gc.collect()

# Leak check: create / feed / drop cycles must leave the heap flat.
model, card = MODELS[0]
chunk = bytes(2 * len(card["channels"]) * (card["window"] + card["hop"]))
marks = []
for i in range(cfg["cycles"]):
    d = imuad.Detector.from_card(model, card)
    d.feed(chunk)
    d = None
    if i % 100 == 99:
        gc.collect()
        if i + 1 in (cfg["cycles"] // 10, cfg["cycles"]):
            marks.append(gc.mem_free())
print("EXC", json.dumps(seen))
print("DONE created=%d mem_free_early=%d mem_free_end=%d" % (created, marks[0], marks[-1]))
