"""A warm stand-by for a service under ``egsu up``: imported and waiting, it starts serving the moment
the supervisor says ``go`` on its standard input (after the service's process died).

Importing a service takes most of its start-up time; a stand-by has done that already, so a killed
service is back in about the time its lifespan needs to connect to the database and the bus.
"""

from __future__ import annotations

import importlib
import sys

import uvicorn


def main(argv: list[str]) -> int:
    target, port = argv[0], int(argv[1])
    module, _, factory = target.partition(":")
    app_factory = getattr(importlib.import_module(module), factory)
    line = sys.stdin.readline()
    if line.strip() != "go":
        return 0  # the supervisor went away or no longer needs this stand-by
    uvicorn.run(
        app_factory,
        factory=True,
        host="127.0.0.1",
        port=port,
        access_log=False,
        timeout_graceful_shutdown=20,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
