# Stand-in for micropython-lib's aioble on the unix port (no radio): services and characteristics
# that keep what is written to them (tests/gateway/test_c8_vectors.py).
class Service:
    def __init__(self, uuid):
        self.uuid = uuid


class Characteristic:
    def __init__(self, service, uuid, read=False, write=False, notify=False, capture=False):
        self.uuid = uuid
        self.flags = 0
        self.value = b""

    def write(self, data):
        self.value = bytes(data)


def register_services(*services):
    pass
