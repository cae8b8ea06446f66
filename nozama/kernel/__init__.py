"""The kernel: what every layer of Nozama shares and that imports nothing of Nozama.

AWS errors (errors.py), the request context a handler is given (context.py), the
one clock (clock.py), the HTTP request/response, server and client helpers (http.py,
http_server.py, http_client.py), the AWS event stream encoding of streamed responses
(eventstream.py), wake-ups between the parts of a server
(wakeups.py), text checks every protocol shares (text.py), the cadence setting for
tests (intervals.py) and exiting promptly on a stop signal (shutdown.py). Everything
else sits on top of it (docs/architecture.md).
"""
