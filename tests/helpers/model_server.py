"""A loopback HTTP server that serves zipped .params files built by the tests, with fault injection; the
random weights it serves and the catalogue records that name their sha1."""
import hashlib
import http.server
import io
import threading
import time
import zipfile


def make_zip(stem, payload, member=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(member or stem + ".params", payload)
    return buf.getvalue()


def sha1_of(data):
    return hashlib.sha1(data).hexdigest()


class ModelServer:
    """Serves ``files`` ({url path: bytes}); ``mode`` 'ok' | 'truncate'; ``delay`` seconds before the response's
    headers; ``trickle`` seconds of sleep after each ``trickle_bytes`` (16 KiB) of body (a slow server; 0: full
    speed; both are read before each piece, so a test may speed a transfer up midway)."""

    def __init__(self):
        self.files, self.requests, self.mode, self.delay, self.trickle = {}, [], "ok", 0.0, 0.0
        self.trickle_bytes = 1 << 14
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                time.sleep(server.delay)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.mode == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                elif server.trickle:
                    try:
                        start = 0
                        while start < len(body):
                            step = server.trickle_bytes if server.trickle else len(body)
                            self.wfile.write(body[start:start + step])
                            self.wfile.flush()
                            start += step
                            time.sleep(server.trickle)
                    except OSError:
                        self.close_connection = True
                else:
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, stem, payload, member=None, folder="/gluon/models/"):
        """Serve ``payload`` zipped as ``{folder}{stem}.zip`` (GluonCV's layout by default)."""
        self.files["%s%s.zip" % (folder, stem)] = make_zip(stem, payload, member)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def published_record(name, sha1):
    """``name``'s catalogue record with ``sha1`` as the sha1 of its published weights."""
    import dataclasses

    from gluon_resnest.models.catalogue import CATALOGUE

    record = CATALOGUE[name]
    return dataclasses.replace(record, pretrained=dataclasses.replace(record.pretrained, sha1=sha1))


def publish(monkeypatch, name, sha1):
    """Make ``sha1`` the published sha1 of ``name`` for one test (the catalogue record is swapped back after)."""
    from gluon_resnest.models.catalogue import CATALOGUE

    monkeypatch.setitem(CATALOGUE, name, published_record(name, sha1))


def random_weights(name, folder):
    """``(net, bytes)``: variant ``name`` with Xavier-initialized weights and its ``.params`` file's bytes (the file
    is written to ``folder``)."""
    import os

    import mxnet as mx

    from gluon_resnest import get_model

    net = get_model(name)
    net.initialize(mx.init.Xavier())
    path = os.path.join(str(folder), name + ".params")
    net.save_parameters(path)
    with open(path, "rb") as handle:
        return net, handle.read()
