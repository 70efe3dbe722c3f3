"""gunicorn's settings that the app needs: `gunicorn --config gunicorn.conf.py 'adr:create_app()'`.

gunicorn also reads this file by itself when started in this folder.
"""

# The error log quotes a request's URI when a worker times out: no follow-up token, no search.
logger_class = "adr.gunicorn_log.Logger"

# The reverse proxy's address, the only peer whose forwarding headers gunicorn believes (scheme,
# SCRIPT_NAME): nginx on this machine. Set here, not left to gunicorn's default, which the
# FORWARDED_ALLOW_IPS environment variable changes. The app itself reads X-Forwarded-* through
# ProxyFix, counting the proxies of its PROXY_FIX_X_* settings.
forwarded_allow_ips = "127.0.0.1"
# The app is served at its own root (APPLICATION_ROOT): no request says where it is mounted, so a
# SCRIPT_NAME header is dropped, not trusted (a wrong one made gunicorn answer 500).
forwarder_headers = ""

# One request at a time in each worker (sync), as gunicorn advises behind a buffering proxy: nginx
# reads the request before gunicorn sees it. With four threads a worker (gthread) the threads
# handed the GIL to each other at every statement, and a report's write lock was held twice as
# long: two sync workers, with mail delivered by `adr send-mail --loop`, took 78 reports a second
# where two workers of four threads took 45 (docs/benchmarks.md, "The intake: sync workers and
# one sender"). A request that hangs gets its worker killed after --timeout again.
worker_class = "sync"


def post_worker_init(worker: object) -> None:
    """Load pypinyin's dictionaries (0.3 s) as the worker starts, not in its first report's
    request: the app imports them only where a name is spelled (`adr.duplicates`); then freeze
    what the worker has loaded (`adr.freeze_loaded`)."""
    import pypinyin  # noqa: F401

    from adr import freeze_loaded

    freeze_loaded()
