"""The kernel: what every layer of Nozama shares and that imports nothing of Nozama.

AWS errors (errors.py), the request context a handler is given (context.py), the
one clock (clock.py), the wake-ups between the server's parts (wakeups.py), and
the HTTP request/response and server (http.py, http_server.py). Everything else
sits on top of it (docs/architecture.md).
"""
