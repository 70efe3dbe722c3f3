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

# Threads in each worker (gthread): a report's request mostly waits for the database's write lock
# and its fsync, and a sync worker does nothing else meanwhile. Four threads gave about twice the
# reports per second at less CPU each (docs/benchmarks.md, "Intake throughput (intake)"). A request
# that hangs no longer gets its worker killed after --timeout; the worker's other threads go on.
# `--worker-class sync --threads 1` on the command line brings back sync workers.
worker_class = "gthread"
threads = 4


def post_worker_init(worker: object) -> None:
    """Load pypinyin's dictionaries (0.3 s) as the worker starts, not in its first report's
    request: the app imports them only where a name is spelled (`adr.duplicates`)."""
    import pypinyin  # noqa: F401
