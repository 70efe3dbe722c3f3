"""Defaults; `instance/config.py`, then `ADR_*` environment variables, override them."""

from pathlib import Path

SQLALCHEMY_DATABASE_URI = "sqlite:///adr.sqlite3"  # relative to the instance folder
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
SQLITE_BUSY_TIMEOUT_MS = 15_000

# A long form filled on a phone can outlive Flask-WTF's default hour.
WTF_CSRF_TIME_LIMIT = 8 * 3600
MAX_CONTENT_LENGTH = 1024 * 1024
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False  # turn on behind HTTPS

BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).parent / "translations")
LANGUAGES = ["zh_CN", "en"]

RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
REPORT_RATE_LIMIT = "10 per minute;60 per hour"

# From the company's web site.
COMPANY_NAME = "陕西医药控股集团天宁制药有限责任公司"
COMPANY_NAME_EN = "Shaanxi Pharmaceutical Holding Group Tianning Pharmaceutical Co., Ltd."
COMPANY_ADDRESS = "陕西省榆林市绥德县天宁路"
COMPANY_PHONES = ["400-840-1008", "0912-5647197"]
SAFETY_INBOX = "tn@tianning.com.cn"  # several: a JSON list, or addresses separated by commas
