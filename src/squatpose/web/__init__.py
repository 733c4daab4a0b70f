"""The local web app: `squatpose serve` (FastAPI server in server.py, static page in static/).

Jobs run in worker processes (worker.py) and live on disk, one folder per job (jobs.py).
"""
