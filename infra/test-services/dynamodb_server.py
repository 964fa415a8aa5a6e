"""A DynamoDB-compatible server for tests: moto's server app on 127.0.0.1, one request at a time.

Real DynamoDB applies the writes to one item one after another; moto's threaded server does not
lock its tables, so concurrent conditional writes could both pass. Serving requests one at a time
gives the per-item serialisation DynamoDB guarantees, so race tests test our code, not moto.

Usage: python dynamodb_server.py [PORT]   (0 or nothing: a free port)
Prints "DYNAMODB_ENDPOINT_URL=http://127.0.0.1:PORT" once it is ready.
"""

import os
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server


class NoDelayHandler(WSGIRequestHandler):
    # Werkzeug writes a response's headers and body in two sends; with Nagle on, the body waits
    # for the client's delayed ACK of the headers (about 40 ms on Linux) on every request.
    disable_nagle_algorithm = True


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=False, request_handler=NoDelayHandler)
    print(f"DYNAMODB_ENDPOINT_URL=http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
