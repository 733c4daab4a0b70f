"""The web app's routes, one module per concern; `web.server.create_app` wires them to the job store
and the worker pool."""
