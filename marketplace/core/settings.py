"""One typed settings object, read from the environment and validated at start-up.

Embedded defaults (SQLite, on-disk index, embedded Redis, mails to an outbox) need no
configuration at all; production sets DATABASE_URL, REDIS_URL, SECRET_KEY and the mail keys.
"""
from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it in French and English."""


class Mode(StrEnum):
    embedded = "embedded"
    production = "production"


class MailBackend(StrEnum):
    outbox = "outbox"
    smtp = "smtp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    passerelle_home: Path = Field(default=Path("instance"))
    passerelle_mode: Mode = Mode.embedded
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:5000"
    port: int = Field(default=5000, ge=1, le=65535)

    mail_backend: MailBackend | None = None
    mail_from: str = "Passerelle <ne-pas-repondre@passerelle.localhost>"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True

    # Who runs this instance, for the legal notice, the personal-data page and the accessibility
    # statement (a real deployment sets them).
    publisher: str = "Instance de démonstration de Passerelle (éditeur à renseigner : PUBLISHER)"
    contact_email: str = "contact@passerelle.localhost"
    hosting: str = "Hébergement à renseigner (HOSTING) ; en mode embarqué, l'ordinateur qui exécute Passerelle"

    # Billing (Stripe). Without a secret key every startup is on the free plan and the billing pages
    # say billing is not configured. STRIPE_API_BASE points the real library at another server (tests).
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_price_pro_month: str = "passerelle_pro_month"  # lookup keys of the Pro prices
    stripe_price_pro_year: str = "passerelle_pro_year"
    pro_price_month_cents: int = Field(default=4_900, ge=1)  # what `billing sync-plans` creates
    pro_price_year_cents: int = Field(default=49_000, ge=1)
    success_fee_bp: int = Field(default=200, ge=0, le=10_000)  # 2 % of the awarded amount
    payment_grace_days: int = Field(default=7, ge=0, le=60)

    # The public pages a visitor who is not signed in gets, kept in Redis for every web process and
    # renewed by any change to what they show (marketplace.web.pagecache); this long at most if
    # the change came from outside Passerelle. 0: every page is rendered for each request (a kept
    # list costs its web process 2–3 ms of CPU instead of 13–22 ms rendered, under bench/load.py).
    page_cache_seconds: int = Field(default=120, ge=0, le=86_400)

    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Request rates (Flask-Limiter syntax), counted in Redis: sign-in forms per address, password
    # reset mails per e-mail address and per address.
    sign_in_rate: str = "60/minute"
    reset_rate_per_email: str = "3/hour"
    reset_rate_per_ip: str = "30/hour"

    @field_validator("database_url")
    @classmethod
    def _database_url_supported(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("seuls SQLite et PostgreSQL sont pris en charge / only SQLite and PostgreSQL are supported")
        if value and value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("doit commencer par redis://, rediss:// ou unix:// / must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _embedded_base_url_follows_port(self) -> Settings:
        # Mails and feeds link to where the embedded app really listens, unless BASE_URL says otherwise.
        if self.passerelle_mode is Mode.embedded and "base_url" not in self.model_fields_set:
            self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    @model_validator(mode="after")
    def _production_needs_servers(self) -> Settings:
        if self.passerelle_mode is Mode.production:
            missing = [name.upper() for name in ("database_url", "redis_url", "secret_key") if not getattr(self, name)]
            if missing:
                raise ValueError(
                    "en production, ces variables sont obligatoires / in production these are required: "
                    + ", ".join(missing)
                )
            if self.effective_mail_backend is MailBackend.smtp and not self.smtp_host:
                raise ValueError("SMTP_HOST est obligatoire pour l'envoi de courriels / SMTP_HOST is required")
        return self

    # Derived values -------------------------------------------------------------------------
    @property
    def billing_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def home(self) -> Path:
        return self.passerelle_home.resolve()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'passerelle.db'}"

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def effective_mail_backend(self) -> MailBackend:
        if self.mail_backend:
            return self.mail_backend
        return MailBackend.smtp if self.smtp_host else MailBackend.outbox

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def search_dir(self) -> Path:
        return self.home / "search"

    @property
    def matching_dir(self) -> Path:
        """The funded-projects model, trained from the reference (``passerelle matching train``)."""
        return self.home / "matching"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    def resolved_secret_key(self) -> str:
        """Production gives SECRET_KEY; the embedded mode keeps a random one in its home."""
        if self.secret_key:
            return self.secret_key
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]).upper() or "configuration"
            lines.append(f"  - {where} : {err['msg']}")
        raise ConfigError(
            "Configuration invalide / invalid configuration:\n" + "\n".join(lines)
        ) from None
