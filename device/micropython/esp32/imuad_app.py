# The sensor -> detector -> alert loop, free of hardware: the source (anything with read() ->
# int16 LE bytes), the detector (imuad.Detector) and the alert sink (anything with
# send(payload: bytes)) are injected, so the same loop runs on the ESP32 and in the unix-port test.
import struct

try:
    from time import ticks_diff
except ImportError:  # CPython
    def ticks_diff(a, b):
        return a - b

EVENT_FMT = "<BBBBIIiI"  # docs/contracts.md C8: version kind state flags seq uptime_ms score model_id
KIND_ONSET, KIND_CLEAR, KIND_HEARTBEAT = 1, 2, 3


def model_id(sha256):
    """First 4 bytes of the model SHA-256 as little-endian u32 (C8)."""
    return struct.unpack("<I", sha256[:4])[0] if sha256 else 0


def event_payload(kind, state, seq, uptime_ms, score, mid, flags=0):
    return struct.pack(EVENT_FMT, 1, kind, state, flags, seq & 0xFFFFFFFF, uptime_ms & 0xFFFFFFFF, score, mid)


class App:
    def __init__(self, detector, source, alert, clock_ms, heartbeat_ms=0):
        self.detector = detector
        self.source = source
        self.alert = alert
        self.clock_ms = clock_ms
        self.heartbeat_ms = heartbeat_ms
        self.model_id = model_id(detector.info()["sha256"])
        self.seq = 0
        self.state = 0
        self.windows = 0
        self.samples_bytes = 0
        self._last_beat = clock_ms()

    def _send(self, kind, score):
        self.seq += 1
        self.alert.send(event_payload(kind, self.state, self.seq, self.clock_ms(), score, self.model_id))

    def step(self):
        """One poll of the source; returns the number of bytes fed (0: nothing was waiting)."""
        data = self.source.read()
        if data:
            results, events = self.detector.feed(data)
            self.samples_bytes += len(data)
            self.windows += len(results)
            if results:
                self.state = results[-1][2]
            for window, kind, score in events:
                self.state = 1 if kind == KIND_ONSET else 0
                self._send(kind, score)
        if self.heartbeat_ms and ticks_diff(self.clock_ms(), self._last_beat) >= self.heartbeat_ms:
            self._last_beat = self.clock_ms()
            self._send(KIND_HEARTBEAT, 0)
        return len(data) if data else 0

    def run(self, idle=None, max_idle_polls=None):
        """Forever (device), or until the source stays empty for max_idle_polls polls (tests)."""
        idle_polls = 0
        while max_idle_polls is None or idle_polls < max_idle_polls:
            if self.step():
                idle_polls = 0
            else:
                idle_polls += 1
                if idle:
                    idle()
