"""The ``hermes serve`` daemon: one scheduler shared by many processes over a socket.

``protocol`` (the wire format), ``sessionservice`` (the client sessions), ``service`` (state
and message handling: the daemon's own core), ``front`` (the same sessions in front of a shared
scheduler: ``hermes serve --scheduler redis://...``), ``server`` (the asyncio sockets),
``client`` (``DaemonScheduler``, what apps use), ``snapshot`` and ``metrics`` (what ``hermes
status`` and Prometheus see).
"""
