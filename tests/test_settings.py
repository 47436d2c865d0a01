"""Settings come from the environment and fail loudly when production needs are missing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(*args, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_secret_key_and_debug_off_it_refuses_to_start_with_a_clear_message():
    result = run_check(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_missing_setting_is_one_clear_line_not_a_traceback():
    result = run_check(DEBUG="false")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("countersign: SECRET_KEY is not set")


def test_with_a_secret_key_it_starts():
    result = run_check(
        DEBUG="false",
        SECRET_KEY="a-real-secret",
        DATABASE_URL="sqlite:////tmp/countersign-settings-check.sqlite3",
    )
    assert result.returncode == 0, result.stderr


def test_the_deploy_check_names_each_demo_default_left_in_production(tmp_path):
    result = run_check(
        "--deploy",
        DEBUG="false",
        SECRET_KEY="a-real-secret-" + "x" * 50,
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
    )
    for warning in (
        "models_registry.W001",  # METRICS_TOKEN unset
        "models_registry.W002",  # SITE_URL on localhost
        "models_registry.W003",  # e-mail to the console
        "audit.W001",  # export signing key derived from SECRET_KEY
        "audit.W002",  # PII hash key is SECRET_KEY
        "audit.W003",  # not PostgreSQL
    ):
        assert warning in result.stderr, result.stderr


def test_a_production_configuration_passes_the_deploy_check_of_our_own_settings():
    result = run_check(
        "--deploy",
        DEBUG="false",
        SECRET_KEY="a-real-secret-" + "x" * 50,
        DATABASE_URL=os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/countersign"
        ),
        METRICS_TOKEN="scraper-token",
        SITE_URL="https://countersign.example.com",
        EMAIL_URL="smtp+tls://mailer:secret@smtp.example.com:587",
        EXPORT_SIGNING_KEY="auditors-key",
        PII_HASH_KEY="pii-key",
    )
    ours = [
        line
        for line in result.stderr.splitlines()
        if "models_registry." in line or "audit." in line
    ]
    assert ours == [], result.stderr


def test_email_url_configures_smtp_in_one_variable():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, "
            "s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS)",
        ],
        cwd=ROOT,
        env=dict(
            os.environ,
            SECRET_KEY="a-real-secret",
            EMAIL_URL="smtp+tls://mailer:secret@smtp.example.com:587",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "mailer",
        "True",
    ]
