"""A minimal HTTP client for MMS's inference and management APIs (urllib, one connection per request)."""
import json
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["http_request", "classify"]


def http_request(method, url, body=None, headers=None, timeout=30):
    """``(status, answer, headers)`` of one request: ``answer`` is the parsed JSON body, else its text; ``status``
    is ``None`` (and ``answer`` the reason) when nothing answered."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        status, raw, got = err.code, err.read(), dict(err.headers or {})
    except (urllib.error.URLError, OSError) as err:
        return None, str(getattr(err, "reason", err)), {}
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text), got
    except ValueError:
        return status, text, got


def classify(inference_url, model, image, topk=None, timeout=60):
    """POST the image file bytes ``image`` to ``/predictions/MODEL`` (``topk`` in the ``X-Topk`` header);
    returns :func:`http_request`'s triple (answer ``{class name: probability}`` on status 200)."""
    headers = {"Content-Type": "application/octet-stream"}
    if topk is not None:
        headers["X-Topk"] = str(topk)
    return http_request("POST", "%s/predictions/%s" % (inference_url, urllib.parse.quote(model)), image, headers,
                        timeout)
