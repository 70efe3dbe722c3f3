"""gunicorn's settings that the app needs: `gunicorn --config gunicorn.conf.py 'adr:create_app()'`.

gunicorn also reads this file by itself when started in this folder.
"""

# The error log quotes a request's URI when a worker times out: no follow-up token, no search.
logger_class = "adr.gunicorn_log.Logger"
