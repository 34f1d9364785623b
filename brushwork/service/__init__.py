"""The brushwork web service: pages, a REST API, a job queue, storage and notifications.

    brushwork serve                        # one machine: web app + an embedded queue and workers
    brushwork worker --broker redis://...  # more workers on other machines, same queue

Modules (each small, imported only when the service runs; `import brushwork` never imports them):
config (ServiceConfig), db (SQLAlchemy models), storage (data directory, quotas, expiry),
uploads (checks by decoding), security (tokens, rate limits, CSRF, body limits), jobs (job
specs, running a job through the Python API), queue (Celery app and tasks), notify (email and
signed webhooks), api (REST), pages (HTML), app (create_app), run (serve / worker processes).
"""
