import pytest

from marketplace.core.settings import ConfigError, MailBackend, Mode, load_settings


def test_embedded_defaults_need_no_configuration(tmp_path):
    s = load_settings(passerelle_home=tmp_path)
    assert s.passerelle_mode is Mode.embedded
    assert s.sqlalchemy_url == f"sqlite:///{tmp_path.resolve() / 'passerelle.db'}"
    assert s.embedded_redis and s.effective_mail_backend is MailBackend.outbox
    # The embedded secret is generated once and kept.
    assert s.resolved_secret_key() == load_settings(passerelle_home=tmp_path).resolved_secret_key()


def test_production_refuses_to_start_without_its_servers(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(passerelle_home=tmp_path, passerelle_mode="production")
    message = str(err.value)
    assert "Configuration invalide / invalid configuration" in message
    assert "DATABASE_URL" in message and "REDIS_URL" in message and "SECRET_KEY" in message


def test_a_wrong_value_is_named_in_french_and_english(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(passerelle_home=tmp_path, database_url="mysql://x")
    assert "DATABASE_URL" in str(err.value) and "seuls SQLite et PostgreSQL" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_settings(passerelle_home=tmp_path, port="quatre")
    assert "PORT" in str(err.value)


def test_environment_variables_configure_production(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSERELLE_MODE", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/passerelle")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SMTP_HOST", "smtp.exemple.fr")
    s = load_settings(passerelle_home=tmp_path)
    assert s.sqlalchemy_url == "postgresql+psycopg://app@db/passerelle"
    assert s.effective_mail_backend is MailBackend.smtp and not s.embedded_redis


def test_the_cli_explains_a_bad_configuration(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "marketplace.cli", "routes"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PASSERELLE_HOME": str(tmp_path), "PASSERELLE_MODE": "production"})
    assert result.returncode == 2
    assert "Configuration invalide" in result.stderr and "SECRET_KEY" in result.stderr


def test_the_embedded_base_url_follows_the_port_unless_given(tmp_path):
    assert load_settings(passerelle_home=tmp_path, port=5077).base_url == "http://127.0.0.1:5077"
    assert load_settings(passerelle_home=tmp_path, port=5077, base_url="https://passerelle.example").base_url \
        == "https://passerelle.example"
