# A real libzmq 4.3.4 peer (Debian's python3-zmq) for the CURVE interop tests. It reports, as
# JSON lines on stdout, what its socket sees; it decides nothing for the test.
#   client <endpoint> <options JSON>: a DEALER that connects and sends options["send"] once
#   server <options JSON>:            a ROUTER bound to 127.0.0.1 port 0 that echoes every message
# options: serverKey, publicKey, secretKey (Z85 text; absent = NULL mechanism), send (strings).
# Lines: {"event":"bound","endpoint":...}, {"event":"message","frames":[base64...]},
#        {"event":"monitor","type":"HANDSHAKE_SUCCEEDED"|...}
import base64
import json
import sys

import zmq
from zmq.utils.monitor import recv_monitor_message


def report(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main():
    role = sys.argv[1]
    options = json.loads(sys.argv[-1])
    context = zmq.Context()
    sock = context.socket(zmq.DEALER if role == "client" else zmq.ROUTER)
    sock.linger = 0
    if role == "server" and "secretKey" in options:
        sock.curve_server = True
        sock.curve_secretkey = options["secretKey"].encode()
    elif "serverKey" in options:
        sock.curve_serverkey = options["serverKey"].encode()
        sock.curve_publickey = options["publicKey"].encode()
        sock.curve_secretkey = options["secretKey"].encode()
    monitor = sock.get_monitor_socket()
    if role == "client":
        sock.connect(sys.argv[2])
        sock.send_multipart([frame.encode() for frame in options.get("send", [])])
    else:
        sock.bind("tcp://127.0.0.1:0")
        report(event="bound", endpoint=sock.getsockopt_string(zmq.LAST_ENDPOINT))
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    while True:
        for ready, _ in poller.poll():
            if ready is monitor:
                event = recv_monitor_message(monitor)
                report(event="monitor", type=zmq.Event(event["event"]).name)
            else:
                frames = sock.recv_multipart()
                report(event="message", frames=[base64.b64encode(f).decode() for f in frames])
                if role == "server":
                    sock.send_multipart(frames)


main()
