# The `micropython` firmware target's main (imuad.targets.micropython): the core's C7 replay loop
# (imuad.serve, the same ReplayApp as every other target) over the model dirs given, the first
# being the HELLO default, with a 1 MiB model slot (and 1 MiB of arena) for a model loaded at run
# time. Unix port: micropython replay_main.py DIR... (frames on stdin/stdout).
import json
import sys

import imuad

models = []
for d in sys.argv[1:]:
    with open(d + "/model_card.json") as f:
        card = json.load(f)
    with open(d + "/model.tflite", "rb") as f:
        model = f.read()
    models.append((card["name"], imuad.Detector.from_card(model, card)))
imuad.serve(models, sys.stdin.buffer, sys.stdout.buffer, 1 << 20, 1 << 20, 1 << 16)
