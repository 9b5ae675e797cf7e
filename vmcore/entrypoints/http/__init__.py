"""``vmcore serve``: the control plane as an HTTP service (Starlette on uvicorn).

:func:`vmcore.entrypoints.http.app.create_app` builds the ASGI app over a ControlPlane.
"""
