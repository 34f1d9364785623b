"""The brushwork web service: pages, a REST API, a job queue, storage and notifications.

    brushwork serve                        # one machine: web app + an embedded queue and workers
    brushwork worker --broker redis://...  # more workers on other machines, same queue

Modules (each small, imported only when the service runs; `import brushwork` never imports them):
config (ServiceConfig), db (SQLAlchemy models and every query), storage (data directory, quotas,
expiry), uploads (checks by decoding), security (tokens, rate limits, CSRF, body limits),
addresses (where a webhook may point), kinds (the job-kind table: one row per capability),
producers (each kind made through the Python API), jobs (requests, creating and running jobs,
status), sweeper (re-queueing, expiry), queue (Celery app and tasks, given a runner), notify
(email and signed webhooks), api (REST), pages (HTML), app and run (the composition roots:
create_app, and the serve / worker processes).

Imports run one way: app/run -> api/pages -> jobs -> kinds -> producers; queue knows nothing of
jobs (its tasks call the runner it is given), notify nothing of jobs.
"""
