"""Defaults; `instance/config.py`, then `ADR_*` environment variables, override them."""

from pathlib import Path

SQLALCHEMY_DATABASE_URI = "sqlite:///adr.sqlite3"  # relative to the instance folder
# hide_parameters: an error message never carries the values of a report. (A pooled
# PostgreSQL connection is checked before use without pool_pre_ping: models.configure_postgresql.)
SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}
SQLITE_BUSY_TIMEOUT_MS = 15_000

# A long form filled on a phone can outlive Flask-WTF's default hour.
WTF_CSRF_TIME_LIMIT = 8 * 3600
MAX_CONTENT_LENGTH = 1024 * 1024
MAX_FORM_PARTS = 500  # fields in one post; the report form with 20 full drug rows sends ~340
# Source documents (adr/inbox/documents.py): the largest file staff may attach, all of a case's
# files together, and the photos or PDFs the public form takes with a report. A post that
# carries files may be as large as they are, plus MAX_CONTENT_LENGTH for the rest of the form.
DOCUMENT_MAX_MB = 20
CASE_DOCUMENTS_MAX_MB = 100
PUBLIC_UPLOAD_MAX_MB = 10
PUBLIC_UPLOAD_COUNT = 3
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False  # on by itself when PREFERRED_URL_SCHEME is https
PREFERRED_URL_SCHEME = "http"  # "https" behind TLS: Secure cookies and HSTS

# Behind a reverse proxy: how many proxies set X-Forwarded-For, -Proto, -Host (Werkzeug's ProxyFix).
PROXY_FIX_X_FOR = 0
PROXY_FIX_X_PROTO = 0
PROXY_FIX_X_HOST = 0

LOG_LEVEL = "INFO"  # one line per request, without query strings or form values

BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).parent / "translations")
LANGUAGES = ["zh_CN", "en"]

# The audit chain's HMAC key; by default derived from SECRET_KEY. Keep it out of the database.
AUDIT_KEY = None

RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
REPORT_RATE_LIMIT = "10 per minute;60 per hour"
LOGIN_RATE_LIMIT_CLIENT = "20 per 10 minutes"  # failed logins from one client address
LOGIN_RATE_LIMIT_ADDRESS = (
    "5 per 10 minutes"  # failed logins for one e-mail address from one client
)
# Failed logins for one account from anywhere are not refused (that would lock its holder out)
# but, past this many within the window, its holder gets a mail (once per window).
LOGIN_ALERT_THRESHOLD = 10
LOGIN_ALERT_WINDOW_MINUTES = 60

# Staff sessions: signed out after this long without a request, and this long after signing in.
STAFF_IDLE_TIMEOUT_MINUTES = 30
STAFF_SESSION_HOURS = 12  # the session cookie's signature is not accepted for longer either
STAFF_TOTP = "optional"  # or "required": every staff account must use a second factor
STAFF_TOTP_ISSUER = "Tianning ADR"  # the name authenticator apps show beside the code
# How staff passwords are hashed (Werkzeug's method string): scrypt at its default cost, about
# 70 ms a hash here. A higher cost ("scrypt:65536:8:1") applies to passwords set from then on.
PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method, not a password

# From the company's web site.
COMPANY_NAME = "陕西医药控股集团天宁制药有限责任公司"
COMPANY_NAME_EN = "Shaanxi Pharmaceutical Holding Group Tianning Pharmaceutical Co., Ltd."
COMPANY_ADDRESS = "陕西省榆林市绥德县天宁路"
COMPANY_PHONES = ["400-840-1008", "0912-5647197"]
SAFETY_INBOX = "tn@tianning.com.cn"  # several: a JSON list, or addresses separated by commas
COMPANY_CONTACT = ""  # the person the monthly workbook names as 联系人

# Mail (Flask-Mail's settings, and the outbox's own).
MAIL_SERVER = "localhost"
MAIL_PORT = 25
MAIL_USE_TLS = False
MAIL_USE_SSL = False
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_DEFAULT_SENDER = None  # the first safety inbox address
MAIL_TIMEOUT = 10  # seconds for each SMTP attempt
MAIL_INCLUDE_PERSONAL_DATA = False  # names, phone numbers and addresses stay in the database
MAIL_LANGUAGE = "zh_CN"  # of the safety-inbox mail; the reporter's follows their page
MAIL_MESSAGE_ID_DOMAIN = None  # the safety inbox's domain
MAIL_BACKGROUND = True  # each web process delivers from a thread of its own
MAIL_POLL_SECONDS = 5
MAIL_PASS_SECONDS = 0.5  # a background pass starts at most this often: many reports' mails each
MAIL_BATCH_SIZE = 10  # mails claimed, sent, then marked together: two write transactions
MAIL_RETRY_BASE_SECONDS = 30  # doubled after each failed attempt…
MAIL_RETRY_MAX_SECONDS = 3600  # …up to this
MAIL_RETRY_WINDOW_HOURS = 72  # then the mail is marked failed
MAIL_CLAIM_TIMEOUT_SECONDS = 300  # a claim older than this was left by a sender that died
MAIL_RECORD_RETRY_SECONDS = 30  # how long to keep trying to mark a mail sent while the DB is down
BASE_URL = "http://127.0.0.1:5000"  # the public address, for links in mails and QR codes
FOLLOW_UP_LINK_DAYS = 180  # how long the private follow-up link of an acknowledgement works

# The safety inbox, read over IMAP by `adr fetch-mail` (adr/inbox/fetch.py).
IMAP_HOST = None
IMAP_PORT = None  # 993 for ssl, 143 for starttls and none
IMAP_USER = None
IMAP_PASSWORD = None
IMAP_FOLDER = "INBOX"
IMAP_SECURITY = "ssl"  # IMAPS; or starttls; or none, refused unless the host is this machine
IMAP_CA_FILE = None  # certificates to trust instead of the system's (a company's own CA)
IMAP_TIMEOUT = 60  # seconds for each network operation
IMAP_MAX_MESSAGE_MB = 40  # a larger message stays in the mailbox; its header is stored
IMAP_POLL_SECONDS = 60  # how often `adr fetch-mail --loop` looks
IMAP_RETRY_MAX_SECONDS = 1800  # after failures it waits twice as long each time, up to this

# The holder's clock gives a new non-serious reaction 30 days (NMPA 2018 No. 66, GVP 2021); a
# company whose SOP follows Order 81 Art. 20 sets 15.
NEW_REACTION_DAYS = 30
# Four-eyes: marking a case invalid or duplicate, closing it, recording the date it was sent and
# a correction that moves a deadline wait for a second member of staff (`adr.cases.approvals`).
FOUR_EYES = True

# Batch clusters (批号聚集, a quality signal, not a group event): the safety inbox is alerted
# when this many cases name one batch of a product within this many days (the days the company
# knew of them), and again each time it doubles.
BATCH_ALERT_COUNT = 3
BATCH_ALERT_DAYS = 90
# Signals (adr.signals): a new signal is to be validated or refuted within this many days.
SIGNAL_VALIDATION_DAYS = 30
# Group adverse events (群体不良事件): this many cases of one product in one area within this many
# days (the days the company knew of them) open one; so do this many deaths in those days.
GROUP_EVENT_CASES = 3
GROUP_EVENT_DAYS = 7
GROUP_EVENT_DEATHS = 2
# Duplicate candidates: the evidence (points, see adr/duplicates.py) an earlier case needs to be
# proposed on a new case's page.
DUPLICATE_THRESHOLD = 7.0

# E2B(R3) electronic reports (adr/regulator/e2b.py). The identifiers NMPA assigns; a file is
# refused until all three are set.
E2B_SENDER_ID = None  # N.1.3 / N.2.r.2: the company's sender identifier
E2B_RECEIVER_ID = None  # N.1.4 / N.2.r.3: the national system's receiver identifier
MAH_ID = None  # C.1.CN.3 持有人标识, also in C.1.1 (CN-<MAH_ID>-<reference>)
E2B_PATIENT_NAME = "initials"  # D.1: "initials" (pinyin initials), "name", or "masked" (MSK)
E2B_PATIENT_PHONE = False  # D.CN.5, a patient reporter's phone and e-mail (never when masked)
E2B_UNVERIFIED_REGIONAL = True  # NMPA elements whose placement is a guess (README lists them)
# The most bytes of articles (C.4.r.2) one file carries, in MB before base64 (which adds a third);
# an article beyond it is cited without its text. The national gateway's own limit is unknown.
E2B_MAX_ATTACHMENT_MB = 5
