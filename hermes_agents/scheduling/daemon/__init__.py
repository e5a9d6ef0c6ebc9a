"""The ``hermes serve`` daemon: one scheduler shared by many processes over a socket.

``protocol`` (the wire format), ``service`` (state and message handling), ``server`` (the
asyncio sockets), ``client`` (``DaemonScheduler``, what apps use), ``snapshot`` and ``metrics``
(what ``hermes status`` and Prometheus see).
"""
