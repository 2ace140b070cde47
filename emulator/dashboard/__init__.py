"""The web dashboard: a page and a JSON API (``/api/v1/``) on a second port, for manual debugging.

:mod:`emulator.dashboard.app` is the HTTP layer (FastAPI), :mod:`emulator.dashboard.serve` runs
it with uvicorn on the gRPC server's event loop, ``static/`` holds the page.
"""
