"""Settings: flag > env > active profile > defaults, profiles, the config file and `dunetrace config`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from dunetrace_cli.config import DEFAULTS, ConfigFile, config_path, load_settings, mask_key
from dunetrace_cli.errors import ConfigError, UsageError

# A key long enough to be masked; it is a configuration value, not API data.
SECRET = "dt_live_4f9c2e81b7d3a6c05e1f"


@pytest.fixture
def cfg_dir() -> Path:
    return Path(os.environ["DUNETRACE_CONFIG_DIR"])


def write_profiles(active: str | None = None, **profiles: dict[str, object]) -> Path:
    path = config_path()
    ConfigFile(path=path, active_profile=active, profiles=dict(profiles)).save()
    return path


def env_with(**values: str) -> dict[str, str]:
    env = {"DUNETRACE_CONFIG_DIR": os.environ["DUNETRACE_CONFIG_DIR"]}
    env.update(values)
    return env


# ---------------------------------------------------------------- precedence

# (setting, flag, env, profile, expected value, expected source): one row per layer.
PRECEDENCE = [
    ("api_url", None, None, None, "http://localhost:8002", "default"),
    ("api_url", None, None, "http://profile.test:8002", "http://profile.test:8002", "profile default"),
    ("api_url", None, "http://env.test:8002", "http://profile.test:8002", "http://env.test:8002", "env DUNETRACE_API_URL"),
    ("api_url", "http://flag.test:8002", "http://env.test:8002", "http://profile.test:8002", "http://flag.test:8002", "flag"),
    ("timeout", None, None, None, 15.0, "default"),
    ("timeout", None, None, 30.0, 30.0, "profile default"),
    ("timeout", None, "20", 30.0, 20.0, "env DUNETRACE_TIMEOUT"),
    ("timeout", 5.0, "20", 30.0, 5.0, "flag"),
    ("api_key", None, None, None, "dt_dev_test", "default"),
    ("api_key", None, None, "dt_profile_key", "dt_profile_key", "profile default"),
    ("api_key", None, "dt_env_key", "dt_profile_key", "dt_env_key", "env DUNETRACE_API_KEY"),
]
ENV_NAMES = {"api_url": "DUNETRACE_API_URL", "timeout": "DUNETRACE_TIMEOUT", "api_key": "DUNETRACE_API_KEY"}


@pytest.mark.parametrize(
    ("key", "flag", "env", "profile", "expected", "source"),
    PRECEDENCE,
    ids=[f"{row[0]}-{row[5].split()[0]}" for row in PRECEDENCE],
)
def test_precedence(key, flag, env, profile, expected, source) -> None:
    if profile is not None:
        write_profiles(default={key: profile})
    environ = env_with(**({ENV_NAMES[key]: env} if env is not None else {}))
    flags = {key: flag} if flag is not None else {}
    settings = load_settings(env=environ, **flags)
    assert getattr(settings, key) == expected
    assert settings.sources[key] == source


def test_precedence_through_the_cli(invoke, cfg_dir: Path) -> None:
    write_profiles(default={"api_url": "http://profile.test:8002", "timeout": 30.0, "api_key": SECRET})
    result = invoke(
        ["--api-url", "http://flag.test:8002", "config", "show", "--json"],
        env={"DUNETRACE_TIMEOUT": "20"},
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["settings"]["api_url"] == {"value": "http://flag.test:8002", "source": "flag"}
    assert data["settings"]["timeout"] == {"value": 20.0, "source": "env DUNETRACE_TIMEOUT"}
    assert data["settings"]["api_key"]["source"] == "profile default"
    assert data["config_path"] == str(cfg_dir / "config.toml")


def test_the_cli_has_no_api_key_flag(invoke) -> None:
    result = invoke(["--api-key", SECRET, "agents"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert result.stdout == ""
    assert "--api-key" not in invoke(["--help"]).stdout


def test_the_profile_api_url_is_used_by_commands(invoke, served) -> None:
    url, fake = served("latest")
    write_profiles(default={"api_url": url})
    result = invoke(["agents", "--json"])
    assert result.exit_code == 0, result.stderr
    assert [a["agent_id"] for a in json.loads(result.stdout)["agents"]] == [a.agent_id for a in _agents(fake)]


def _agents(fake):
    from dunetrace_cli.models import AgentSummary

    return [AgentSummary.model_validate(a) for a in sorted(fake.data["agents"], key=lambda a: -a["last_seen"])]


# ---------------------------------------------------------------- profiles


@pytest.fixture
def two_profiles() -> Path:
    return write_profiles(
        active="prod",
        default={"api_url": "http://localhost:8002"},
        prod={"api_url": "https://prod.test", "api_key": SECRET},
        staging={"api_url": "https://staging.test"},
    )


def test_active_profile_is_used(two_profiles: Path) -> None:
    settings = load_settings(env=env_with())
    assert (settings.profile, settings.api_url, settings.api_key) == ("prod", "https://prod.test", SECRET)
    assert settings.sources["api_url"] == "profile prod"
    # a setting the profile lacks falls back to the default, not to another profile
    assert settings.timeout == DEFAULTS["timeout"] and settings.sources["timeout"] == "default"


def test_env_profile_beats_active_profile(two_profiles: Path) -> None:
    settings = load_settings(env=env_with(DUNETRACE_PROFILE="staging"))
    assert (settings.profile, settings.api_url) == ("staging", "https://staging.test")
    assert settings.api_key == "dt_dev_test"


def test_profile_flag_beats_env_profile(two_profiles: Path) -> None:
    settings = load_settings(profile="default", env=env_with(DUNETRACE_PROFILE="staging"))
    assert (settings.profile, settings.api_url) == ("default", "http://localhost:8002")


def test_profile_flag_through_the_cli(invoke, two_profiles: Path) -> None:
    result = invoke(["--profile", "staging", "config", "show", "--json"], env={"DUNETRACE_PROFILE": "prod"})
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["profile"] == "staging"
    assert data["settings"]["api_url"]["value"] == "https://staging.test"
    assert data["profiles"] == ["default", "prod", "staging"]
    assert data["active_profile"] == "prod"


def test_unknown_profile_is_a_config_error(two_profiles: Path, invoke) -> None:
    with pytest.raises(ConfigError, match="no profile 'nope'.*profiles: default, prod, staging"):
        load_settings(env=env_with(DUNETRACE_PROFILE="nope"))
    result = invoke(["--profile", "nope", "agents"])
    assert result.exit_code == 3
    assert "no profile 'nope'" in result.stderr
    assert result.stdout == ""


def test_default_profile_needs_no_file() -> None:
    settings = load_settings(env=env_with())
    assert settings.profile == "default"
    assert not config_path().exists()


# ---------------------------------------------------------------- the file


def test_bad_toml_is_a_config_error(invoke) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[profiles.default\napi_url = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env=env_with())
    for args in (["agents"], ["config", "show"]):
        result = invoke(args)
        assert result.exit_code == 3, args
        assert "not valid TOML" in result.stderr and str(path) in result.stderr
        assert result.stdout == ""
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[profiles.default]\ncolour = "red"\n', "unknown setting 'colour' in profile 'default'"),
        ('[profiles.default]\ntimeout = "soon"\n', "invalid timeout 'soon'"),
        ('[profiles.default]\ntimeout = 0\n', "more than 0"),
        ('[profiles.default]\napi_url = "ftp://x"\n', "invalid api_url 'ftp://x'"),
        ('profiles = "x"\n', "unexpected layout"),
        ('[profiles]\ndefault = 3\n', "profile 'default' must be a table"),
    ],
)
def test_bad_values_in_the_file_are_config_errors(text: str, message: str) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env_with())


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DUNETRACE_TIMEOUT", "soon", "invalid timeout 'soon'"),
        ("DUNETRACE_TIMEOUT", "-1", "more than 0"),
        ("DUNETRACE_API_URL", "localhost:8002", "invalid api_url"),
    ],
)
def test_bad_env_values_are_config_errors_naming_the_variable(name: str, value: str, message: str, invoke) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(env=env_with(**{name: value}))
    assert name in str(info.value)
    result = invoke(["agents"], env={name: value})
    assert result.exit_code == 3
    assert name in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["config", "set", "colour", "red"], "unknown setting 'colour'. Valid settings: api_url, api_key, timeout"),
        (["config", "set", "timeout", "soon"], "invalid timeout 'soon'"),
        (["config", "set", "timeout", "601"], "at most 600 seconds"),
        (["config", "set", "api_url", "ftp://x"], "invalid api_url 'ftp://x'"),
        (["config", "set", "api_key", "--from-env", "KEY_WITH_SPACES"], "invalid api_key"),
        (["config", "set", "api_url", "http://x.test", "--profile", "bad name!"], "invalid profile name"),
    ],
)
def test_config_set_rejects_bad_input(invoke, args: list[str], message: str) -> None:
    result = invoke(args, env={"KEY_WITH_SPACES": "two words"})
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert not config_path().exists()


def test_validate_value_unknown_key_is_a_usage_error() -> None:
    from dunetrace_cli.config import validate_value

    with pytest.raises(UsageError, match="unknown setting 'colour'"):
        validate_value("colour", "red")
    assert validate_value("api_url", " http://x.test:8002/ ") == "http://x.test:8002"
    assert validate_value("timeout", "2.5") == 2.5


def test_config_set_writes_mode_0600(invoke, cfg_dir: Path) -> None:
    result = invoke(["config", "set", "api_url", "https://prod.test", "--profile", "prod"])
    assert result.exit_code == 0, result.stderr
    path = cfg_dir / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ConfigFile.load(path).profiles == {"prod": {"api_url": "https://prod.test"}}
    assert "profile 'prod'" in result.stderr


def test_config_set_tightens_an_existing_file(invoke, cfg_dir: Path) -> None:
    path = cfg_dir / "config.toml"
    path.write_text('[profiles.default]\napi_url = "http://localhost:8002"\n', encoding="utf-8")
    path.chmod(0o644)
    assert invoke(["config", "set", "timeout", "30"]).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ConfigFile.load(path).profiles["default"] == {"api_url": "http://localhost:8002", "timeout": 30.0}


def test_config_set_api_key_from_stdin_never_echoes_it(invoke) -> None:
    result = invoke(["config", "set", "api_key", "-"], input=SECRET + "\n")
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert mask_key(SECRET) in result.stderr
    assert load_settings(env=env_with()).api_key == SECRET


# ---------------------------------------------------------------- show, use, path


def test_config_show_masks_the_key(invoke) -> None:
    assert invoke(["config", "set", "api_key", "-"], input=SECRET).exit_code == 0
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = invoke(args)
        assert result.exit_code == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
    assert mask_key(SECRET) in invoke(["config", "show"]).stdout
    data = json.loads(invoke(["config", "show", "--json"]).stdout)
    assert data["settings"]["api_key"] == {"value": mask_key(SECRET), "source": "profile default", "masked": True}


def test_config_show_masks_a_key_from_the_environment(invoke) -> None:
    result = invoke(["config", "show"], env={"DUNETRACE_API_KEY": SECRET})
    assert result.exit_code == 0
    assert SECRET not in result.stdout + result.stderr
    assert "env DUNETRACE_API_KEY" in result.stdout


def test_config_show_reveal(invoke) -> None:
    invoke(["config", "set", "api_key", "-"], input=SECRET)
    result = invoke(["config", "show", "--reveal"])
    assert result.exit_code == 0
    assert SECRET in result.stdout
    data = json.loads(invoke(["config", "show", "--reveal", "--json"]).stdout)
    assert data["settings"]["api_key"]["value"] == SECRET
    assert data["settings"]["api_key"]["masked"] is False


def test_mask_key() -> None:
    masked = mask_key(SECRET)
    assert masked.startswith(SECRET[:4]) and masked.endswith(SECRET[-2:])
    assert len(masked) < len(SECRET) // 2
    assert mask_key("short") == "*****"
    assert mask_key("") == ""


def test_config_show_table(invoke, cfg_dir: Path) -> None:
    write_profiles(active="prod", prod={"api_url": "https://prod.test"})
    result = invoke(["config", "show"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["profile", "prod"]
    assert lines[1].split() == ["api_url", "https://prod.test", "(profile", "prod)"]
    assert lines[2].split() == ["api_key", "dt_d…st", "(default)"]
    assert lines[3].split() == ["timeout", "15.0", "(default)"]
    assert f"file     {cfg_dir / 'config.toml'}" in result.stdout


def test_config_use(invoke, two_profiles: Path) -> None:
    result = invoke(["config", "use", "staging"])
    assert result.exit_code == 0, result.stderr
    assert "active profile is now 'staging'" in result.stderr
    assert ConfigFile.load(two_profiles).active_profile == "staging"
    assert stat.S_IMODE(two_profiles.stat().st_mode) == 0o600
    assert load_settings(env=env_with()).api_url == "https://staging.test"
    # the default profile always exists
    assert invoke(["config", "use", "default"]).exit_code == 0
    assert load_settings(env=env_with()).profile == "default"


def test_config_use_unknown_profile(invoke, two_profiles: Path) -> None:
    result = invoke(["config", "use", "nope"])
    assert result.exit_code == 2
    assert "no profile 'nope' (profiles: default, prod, staging)" in result.stderr
    assert ConfigFile.load(two_profiles).active_profile == "prod"


def test_config_path(invoke, cfg_dir: Path) -> None:
    result = invoke(["config", "path"])
    assert result.exit_code == 0
    assert result.stdout.strip() == str(cfg_dir / "config.toml")


def test_config_dir_defaults_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("DUNETRACE_CONFIG_DIR")
    assert config_path() == Path(platformdirs.user_config_dir("dunetrace", appauthor=False)) / "config.toml"


def test_written_file_round_trips(cfg_dir: Path) -> None:
    path = write_profiles(active="prod", prod={"api_url": "https://prod.test", "api_key": SECRET, "timeout": 7.5})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# dunetrace-cli settings")
    loaded = ConfigFile.load(path)
    assert loaded.active_profile == "prod"
    assert loaded.profiles == {"prod": {"api_url": "https://prod.test", "api_key": SECRET, "timeout": 7.5}}


# ---------------------------------------------------------------- secrets


def test_config_set_refuses_a_key_on_the_command_line(invoke) -> None:
    result = invoke(["config", "set", "api_key", SECRET])
    assert result.exit_code == 2
    assert SECRET not in result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "refusing to take the API key from the command line" in message
    assert """printf '%s\\n' "$KEY" | dunetrace config set api_key -""" in message
    assert "dunetrace config set api_key --from-env DUNETRACE_API_KEY" in message
    assert not config_path().exists()


def test_config_set_api_key_from_env(invoke) -> None:
    result = invoke(["config", "set", "api_key", "--from-env", "MY_DT_KEY"], env={"MY_DT_KEY": SECRET})
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert load_settings(env=env_with()).api_key == SECRET


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["config", "set", "api_key", "--from-env", "UNSET_VAR_X"], "UNSET_VAR_X is not set or empty"),
        (["config", "set", "api_key", "-", "--from-env", "MY_DT_KEY"], "not both"),
        (["config", "set", "api_key"], "give the new value for api_key"),
    ],
)
def test_config_set_api_key_misuse(invoke, args: list[str], message: str) -> None:
    result = invoke(args, env={"MY_DT_KEY": SECRET})
    assert result.exit_code == 2
    assert message in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_the_config_dir_is_created_0700(invoke, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "dunetrace"
    result = invoke(["config", "set", "timeout", "9"], env={"DUNETRACE_CONFIG_DIR": str(target)})
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "config.toml").stat().st_mode) == 0o600


def test_a_config_file_others_can_read_gets_a_warning(invoke, cfg_dir: Path) -> None:
    from dunetrace_cli import config

    config._WARNED.clear()
    path = cfg_dir / "config.toml"
    path.write_text('[profiles.default]\napi_key = "dt_live_abcdefghijkl"\n', encoding="utf-8")
    path.chmod(0o644)
    result = invoke(["config", "show"])
    assert result.exit_code == 0
    assert (
        f"dunetrace: warning: {path} is readable or writable by other users (mode 0644) and may hold an API key; "
        f"run `chmod 600 {path}`."
    ) in " ".join(result.stderr.split())
    assert "warning" not in result.stdout
    path.chmod(0o600)
    config._WARNED.clear()
    assert "warning" not in invoke(["config", "show"]).stderr


def test_url_userinfo_is_masked_in_config_show(invoke) -> None:
    url = "https://ops:hunter2-secret@dunetrace.example.com"
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = invoke(args, env={"DUNETRACE_API_URL": url})
        assert result.exit_code == 0, result.stderr
        assert "hunter2" not in result.stdout + result.stderr
        assert "https://****@dunetrace.example.com" in result.stdout


def test_redact_url() -> None:
    from dunetrace_cli.config import redact_url

    assert redact_url("http://u:p@host:1/x") == "http://****@host:1/x"
    assert redact_url("http://token@host") == "http://****@host"
    assert redact_url("https://u:p@ss@host/a@b") == "https://****@host/a@b"  # an unescaped @ in the password
    assert redact_url("http://host/path@x") == "http://host/path@x"
    assert redact_url("local:/tmp/x.db") == "local:/tmp/x.db"


# ---------------------------------------------------------------- the file is edited, not rewritten


def test_set_keeps_comments_and_layout(invoke, cfg_dir: Path) -> None:
    path = cfg_dir / "config.toml"
    original = (
        "# my settings, hand-written\n"
        'active_profile = "prod"  # the one I use\n'
        "\n"
        "[profiles.prod]\n"
        "# production backend\n"
        'api_url = "https://prod.test"\n'
        "timeout = 20.0\n"
    )
    path.write_text(original, encoding="utf-8")
    path.chmod(0o600)
    assert invoke(["config", "set", "timeout", "30"]).exit_code == 0
    assert invoke(["config", "set", "api_url", "http://localhost:8002", "--profile", "dev"]).exit_code == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith(original.replace("timeout = 20.0", "timeout = 30.0"))
    assert '[profiles.dev]\napi_url = "http://localhost:8002"' in text
    assert invoke(["config", "use", "dev"]).exit_code == 0
    assert 'active_profile = "dev"  # the one I use' in path.read_text(encoding="utf-8")


def test_a_non_bmp_character_round_trips(invoke, cfg_dir: Path) -> None:
    profile = "default"
    cfg = ConfigFile.load(config_path())
    cfg.profiles[profile] = {"api_url": "local:/tmp/st\U0001F600re.db"}
    cfg.save()
    text = (cfg_dir / "config.toml").read_text(encoding="utf-8")
    assert "\U0001F600" in text and "\\ud83d" not in text
    assert ConfigFile.load(config_path()).profiles[profile]["api_url"] == "local:/tmp/st\U0001F600re.db"
    result = invoke(["config", "show", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["settings"]["api_url"]["value"] == "local:/tmp/st\U0001F600re.db"
