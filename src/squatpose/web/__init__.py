"""The local web app: `squatpose serve` (the app factory in server.py, its routes in routes/, the request
checks in security.py, the static page in static/).

Jobs run in worker processes (worker.py) and live on disk, one folder per job (jobs.py).
"""
