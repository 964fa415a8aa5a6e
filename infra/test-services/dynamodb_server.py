"""A DynamoDB-compatible server for tests: moto's server app on 127.0.0.1, one request at a time.

Real DynamoDB applies the writes to one item one after another; moto's threaded server does not
lock its tables, so concurrent conditional writes could both pass. Serving requests one at a time
gives the per-item serialisation DynamoDB guarantees, so race tests test our code, not moto.

Speed (the race tests send tens of thousands of requests through this one thread):
- a signed request goes straight to the app of the service its SigV4 credential scope names
  (moto's own dispatcher searches every moto module's URL patterns for each request, about a
  millisecond); anything else still goes through moto's dispatcher;
- no Nagle: Werkzeug writes a response's headers and body in two sends, and with Nagle on the
  body waits for the client's delayed ACK of the headers (about 40 ms on Linux);
- moto looks up its response class's method names (`inspect.getmembers`) on every request;
  they are the same for a class all along, so they are looked up once per class;
- the objects of the imports (botocore's service models, moto's modules) are moved out of the
  garbage collector's sight (`gc.freeze`), so its full collections walk the tables, not them;
- no access log line per request.

Usage: python dynamodb_server.py [PORT]   (0 or nothing: a free port)
Prints "DYNAMODB_ENDPOINT_URL=http://127.0.0.1:PORT" once it is ready.
"""

import functools
import gc
import os
import sys

import moto.core.responses
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

# The services the tests use, by the service name in a SigV4 credential scope.
FAST_SERVICES = ("dynamodb", "secretsmanager")


class QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True

    def log_request(self, code="-", size="-"):
        pass


class Dispatcher:
    """Signed requests for the services above go to their app; the rest to moto's dispatcher."""

    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.apps = {service: create_backend_app(service) for service in FAST_SERVICES}

    def __call__(self, environ, start_response):
        return self.app_for(environ)(environ, start_response)

    def app_for(self, environ):
        # "AWS4-HMAC-SHA256 Credential=KEY/20260101/us-east-1/dynamodb/aws4_request, ..."
        scope = environ.get("HTTP_AUTHORIZATION", "").split(",")[0].split("/")
        service = scope[3] if len(scope) == 5 else None
        return self.apps.get(service, self.moto)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    moto.core.responses.method_names_from_class = functools.cache(moto.core.responses.method_names_from_class)
    app = Dispatcher()
    gc.freeze()
    server = make_server("127.0.0.1", port, app, threaded=False, request_handler=QuietHandler)
    print(f"DYNAMODB_ENDPOINT_URL=http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
