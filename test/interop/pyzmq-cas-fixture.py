# A libzmq client (Debian's python3-zmq) that knows Warehouse only from the README's Protocol
# section: it increments a counter key by compare-and-set, reading the version with GET and
# writing with SET ifVersion, retrying on CONFLICT. It prints every reply as one JSON line and
# then {"done": true}; the test decides what is right.
#   python3 pyzmq-cas-fixture.py <endpoint> <key> <increments>
import json
import sys

import zmq

endpoint, key, increments = sys.argv[1], sys.argv[2], int(sys.argv[3])
sock = zmq.Context().socket(zmq.DEALER)
sock.setsockopt(zmq.LINGER, 0)
sock.setsockopt(zmq.RCVTIMEO, 5000)
sock.connect(endpoint)
next_id = 0


def call(request):
    global next_id
    next_id += 1
    request = dict(request, id=next_id)
    sock.send(json.dumps(request).encode())
    reply = json.loads(sock.recv().decode())
    print(json.dumps({"request": request, "reply": reply}), flush=True)
    return reply


done = 0
while done < increments:
    got = call({"op": "GET", "key": key})
    version = got["version"] if got.get("found") else 0
    count = int(got["value"]) if got.get("found") else 0
    put = call({"op": "SET", "key": key, "value": str(count + 1), "ifVersion": version})
    if put.get("ok"):
        done += 1
    elif put["error"]["code"] != "CONFLICT":
        sys.exit(1)
print(json.dumps({"done": True}), flush=True)
