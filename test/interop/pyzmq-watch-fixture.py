# A libzmq SUB (Debian's python3-zmq) watching Warehouse's change feed, for the WATCH tests.
#   argv: <pub endpoint> <topic>...   (subscribes to each topic, then to "hb")
#   stdout: {"event":"ready"} at the first heartbeat (the topics were subscribed before "hb" on
#           the same connection, so they are in force at the publisher from then on), then
#           {"event":"message","topic":...,"body":...} for every other message, in arrival order.
# It decides nothing: it reports what it receives.
import json
import sys

import zmq

endpoint, topics = sys.argv[1], sys.argv[2:]
sock = zmq.Context.instance().socket(zmq.SUB)
sock.setsockopt(zmq.LINGER, 0)
for topic in topics:
    sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
sock.setsockopt(zmq.SUBSCRIBE, b"hb")
sock.connect(endpoint)
is_ready = False
while True:
    frames = sock.recv_multipart()
    topic = frames[0].decode()
    if topic == "hb":
        if not is_ready:
            is_ready = True
            print(json.dumps({"event": "ready"}), flush=True)
        continue
    body = frames[1].decode() if len(frames) > 1 else None
    print(json.dumps({"event": "message", "topic": topic, "body": body, "frames": len(frames)}),
          flush=True)
