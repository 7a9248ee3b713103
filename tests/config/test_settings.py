"""Tests for config.settings: defaults, precedence, and every problem reported at once, named as written.

Rules: the environment is always a plain dict passed to load() (never os.environ), and TOML files
are written to tmp_path. Problems are asserted by field name, so wording can improve freely.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import config
from config import ConfigError, ConfigProblem, Settings, data_path, load, simulated_providers


def _write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(excinfo: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {problem.field: problem.message for problem in excinfo.value.problems}


def test_package_all_is_pinned() -> None:
    assert sorted(config.__all__) == [
        "AuthSettings", "CONFIG_ENV_VAR", "ConfigError", "ConfigProblem", "DatabaseSettings",
        "EmailSettings", "EngineSettings", "KeyFileError", "Keys", "LogSettings", "MetaSettings", "Resolved",
        "ServerSettings", "Settings", "SimulatorSettings", "SpotifySettings", "Value", "data_path", "load",
        "load_or_create_keys", "resolve", "simulated_providers",
    ]


def test_empty_environ_gives_defaults() -> None:
    settings = load({})
    assert settings == Settings()
    assert (settings.data_dir, settings.server.host, settings.server.port) == ("var", "127.0.0.1", 3000)
    assert settings.database.url is None
    assert settings.engine.shutdown_grace == 10.0
    assert (settings.log.level, settings.log.format) == ("info", "auto")


def test_environment_beats_file_beats_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, '[server]\nport = 4000\nworkers = 2\n[log]\nlevel = "debug"\n')
    settings = load({"SONGTRACK_SERVER_PORT": "5000"}, path)
    assert settings.server.port == 5000  # env over file
    assert settings.server.workers == 2  # file over default
    assert settings.log.level == "debug"
    assert settings.server.host == "127.0.0.1"  # default


def test_overrides_beat_environment_and_none_means_not_given() -> None:
    environ = {"SONGTRACK_SERVER_PORT": "5000", "SONGTRACK_LOG_LEVEL": "warning"}
    settings = load(environ, overrides={"server.port": 6000, "log.level": None, "data_dir": "/srv/st"})
    assert settings.server.port == 6000
    assert settings.log.level == "warning"
    assert settings.data_dir == "/srv/st"


def test_environment_strings_are_converted() -> None:
    settings = load({"SONGTRACK_SERVER_WORKERS": "4", "SONGTRACK_ENGINE_SHUTDOWN_GRACE": "2.5"})
    assert settings.server.workers == 4
    assert settings.engine.shutdown_grace == 2.5


def test_sandbox_stream_rate_defaults_to_two_may_be_off_and_is_bounded() -> None:
    assert load({}).simulators.stream_rate == 2.0
    assert load({"SONGTRACK_SIMULATORS_STREAM_RATE": "0"}).simulators.stream_rate == 0.0
    for bad in ("-1", "1000.5", "fast"):
        with pytest.raises(ConfigError) as excinfo:
            load({"SONGTRACK_SIMULATORS_STREAM_RATE": bad})
        assert list(_problems(excinfo)) == ["SONGTRACK_SIMULATORS_STREAM_RATE"]


def test_cors_origins_are_a_list_or_comma_separated_without_trailing_slashes(tmp_path: Path) -> None:
    given = load({"SONGTRACK_SERVER_CORS_ORIGINS": "https://a.example/, http://b.example:8080"})
    assert given.server.origins() == ("https://a.example", "http://b.example:8080")
    listed = load({}, _write(tmp_path, '[server]\ncors_origins = ["*"]\n'))
    assert listed.server.origins() == ("*",)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SONGTRACK_SERVER_PORT", "abc", "expected an integer between 0 and 65535, got 'abc'"),
        ("SONGTRACK_SERVER_PORT", "70000", "expected an integer between 0 and 65535, got '70000'"),
        ("SONGTRACK_SERVER_WORKERS", "0", "expected an integer between 1 and 64, got '0'"),
        ("SONGTRACK_LOG_LEVEL", "loud", "expected one of"),
        ("SONGTRACK_DATABASE_URL", "mysql://db", "expected a postgresql:// or postgres:// URL"),
        ("SONGTRACK_ENGINE_SHUTDOWN_GRACE", "-1", "expected a number greater than 0 and at most 600"),
        ("SONGTRACK_DATA_DIR", "", "expected a non-empty string"),
        ("SONGTRACK_SERVER_CORS_ORIGINS", "https://dash.example.com/app", "is not an origin"),
    ],
)
def test_bad_value_is_refused_naming_its_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({name: value})
    assert [problem.field for problem in excinfo.value.problems] == [name]
    assert expected in excinfo.value.problems[0].message
    assert "$" not in excinfo.value.problems[0].message  # no msgspec path noise


def test_several_bad_values_give_one_problem_each(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nworkers = 0\n")
    environ = {"SONGTRACK_SERVER_PORT": "abc", "SONGTRACK_LOG_LEVEL": "loud"}
    with pytest.raises(ConfigError) as excinfo:
        load(environ, path, overrides={"engine.shutdown_grace": -1})
    assert sorted(_problems(excinfo)) == [
        "SONGTRACK_LOG_LEVEL",
        "SONGTRACK_SERVER_PORT",
        "engine.shutdown_grace",
        "server.workers (config.toml)",
    ]


def test_error_text_lists_one_line_per_problem() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_SERVER_PORT": "abc", "SONGTRACK_SERVER_WORKERS": "0"})
    assert str(excinfo.value) == (
        "invalid configuration:\n"
        "  SONGTRACK_SERVER_PORT: expected an integer between 0 and 65535, got 'abc'\n"
        "  SONGTRACK_SERVER_WORKERS: expected an integer between 1 and 64, got '0'"
    )


def test_unknown_songtrack_variable_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_SERVER_PROT": "3000"})
    assert _problems(excinfo) == {
        "SONGTRACK_SERVER_PROT": "unknown setting; did you mean SONGTRACK_SERVER_PORT?",
    }


def test_config_variable_and_foreign_variables_are_not_ours() -> None:
    environ = {"SONGTRACK_CONFIG": "/etc/songtrack.toml", "HOME": "/root", "PORT": "80", "songtrack_x": "1"}
    assert load(environ) == Settings()


def test_unknown_toml_key_and_section_are_refused_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'colour = "blue"\n[server]\nprot = 1\n[theme]\nenabled = true\n')
    with pytest.raises(ConfigError) as excinfo:
        load({}, path)
    problems = _problems(excinfo)
    assert sorted(problems) == ["colour (config.toml)", "server.prot (config.toml)", "theme (config.toml)"]
    assert problems["theme (config.toml)"].startswith("unknown section")
    assert problems["server.prot (config.toml)"] == "unknown key; did you mean server.port?"


def test_section_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "server = 3000\n")
    with pytest.raises(ConfigError) as excinfo:
        load({}, path)
    assert _problems(excinfo) == {"server (config.toml)": "expected a [server] table, got 3000"}


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nport = = 3000\n")
    with pytest.raises(ConfigError) as excinfo:
        load({}, path)
    (problem,) = excinfo.value.problems
    assert problem.field == str(path)
    assert problem.message.startswith("invalid TOML: ")
    assert "line 2" in problem.message


def test_missing_file_given_explicitly_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as excinfo:
        load({}, path)
    assert _problems(excinfo) == {str(path): "no such file"}


def test_toml_values_are_typed_so_a_quoted_number_is_refused(tmp_path: Path) -> None:
    # Unlike the environment, TOML can say 3000; "3000" there is a mistake worth pointing out.
    path = _write(tmp_path, '[server]\nport = "3000"\n')
    with pytest.raises(ConfigError) as excinfo:
        load({}, path)
    assert list(_problems(excinfo)) == ["server.port (config.toml)"]


def test_toml_integer_is_fine_for_a_float_field(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "/srv/st"\n[engine]\nshutdown_grace = 30\n')
    settings = load({}, path)
    assert settings.engine.shutdown_grace == 30.0
    assert settings.data_dir == "/srv/st"


def test_pool_min_above_pool_max_names_both_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, "[database]\npool_max = 5\n")
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_DATABASE_POOL_MIN": "8"}, path)
    fields = "SONGTRACK_DATABASE_POOL_MIN, database.pool_max (config.toml)"
    assert _problems(excinfo) == {fields: "pool_min (8) must not exceed pool_max (5)"}


def test_conflict_against_a_default_says_so() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_DATABASE_POOL_MIN": "20"})
    assert list(_problems(excinfo)) == ["SONGTRACK_DATABASE_POOL_MIN, database.pool_max (default)"]


def test_conflicts_are_reported_alongside_bad_values() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_DATABASE_POOL_MIN": "20", "SONGTRACK_SERVER_PORT": "abc"})
    assert len(excinfo.value.problems) == 2


def test_database_url_is_honoured_and_ours_wins() -> None:
    assert load({"DATABASE_URL": "postgres://a/db"}).database.url == "postgres://a/db"
    both = {"DATABASE_URL": "postgres://a/db", "SONGTRACK_DATABASE_URL": "postgresql://b/db"}
    assert load(both).database.url == "postgresql://b/db"


def test_bad_database_url_is_named_without_showing_its_password() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"DATABASE_URL": "mysql://app:hunter2@db/app"})
    assert list(_problems(excinfo)) == ["DATABASE_URL"]
    assert "mysql://" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


def test_every_field_is_configurable_through_the_environment() -> None:
    # Derived from the Structs: a field added later must need no change to the loader.
    environ = {}
    for section in msgspec.structs.fields(Settings):
        if isinstance(section.type, type) and issubclass(section.type, msgspec.Struct):
            for field in msgspec.structs.fields(section.type):
                if field.default is not None:
                    environ[f"SONGTRACK_{section.name}_{field.name}".upper()] = str(field.default)
        else:
            environ[f"SONGTRACK_{section.name}".upper()] = str(section.default)
    assert {"SONGTRACK_DATA_DIR", "SONGTRACK_ENGINE_SHUTDOWN_GRACE", "SONGTRACK_LOG_FORMAT"} <= environ.keys()
    assert load(environ) == Settings()


def test_unknown_override_key_is_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({}, overrides={"server.prot": 1})
    assert list(_problems(excinfo)) == ["server.prot"]


def test_constructing_a_conflicting_section_directly_raises() -> None:
    with pytest.raises(ValueError, match="pool_min"):
        config.DatabaseSettings(pool_min=5, pool_max=2)


def test_config_error_survives_pickling() -> None:
    error = ConfigError([ConfigProblem("SONGTRACK_SERVER_PORT", "bad")])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems
    assert str(copy) == str(error)


def test_data_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert data_path(load({})) == tmp_path.resolve() / "var"
    assert data_path(load({"SONGTRACK_DATA_DIR": "/srv/st"})) == Path("/srv/st")


@given(st.integers(min_value=0, max_value=65535))
def test_any_valid_port_string_is_loaded(port: int) -> None:
    assert load({"SONGTRACK_SERVER_PORT": str(port)}).server.port == port


@given(st.integers().filter(lambda port: not 0 <= port <= 65535))
def test_any_out_of_range_port_is_refused_by_name(port: int) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_SERVER_PORT": str(port)})
    assert [problem.field for problem in excinfo.value.problems] == ["SONGTRACK_SERVER_PORT"]


def test_a_bad_value_is_refused_even_when_a_higher_source_overrides_it(tmp_path: Path) -> None:
    # A broken file stays broken whatever the environment of the day says.
    path = _write(tmp_path, "[server]\nport = 70000\n")
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_SERVER_PORT": "3001"}, path)
    assert list(_problems(excinfo)) == ["server.port (config.toml)"]


def test_each_provider_without_credentials_is_simulated_under_auto() -> None:
    assert simulated_providers(load({})) == {"meta", "spotify"}
    meta_only = load({"SONGTRACK_META_APP_ID": "1234", "SONGTRACK_META_APP_SECRET": "s3cret"})
    assert simulated_providers(meta_only) == {"spotify"}
    both = load({"SONGTRACK_META_APP_ID": "1234", "SONGTRACK_META_APP_SECRET": "s3cret",
                 "SONGTRACK_SPOTIFY_CLIENT_ID": "abc123"})
    assert simulated_providers(both) == set()
    assert simulated_providers(load({"SONGTRACK_SANDBOX": "on", "SONGTRACK_SPOTIFY_CLIENT_ID": "abc123"})) == {
        "meta", "spotify"}
    assert simulated_providers(load({"SONGTRACK_SANDBOX": "off"})) == set()


def test_a_meta_app_needs_its_secret_which_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"SONGTRACK_META_APP_ID": "1234"})
    assert "SONGTRACK_META_APP_ID" in str(caught.value) and "App Secret" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load({"SONGTRACK_META_APP_ID": "not-a-number", "SONGTRACK_META_APP_SECRET": "hunter2hunter2"})
    assert "SONGTRACK_META_APP_ID" in str(caught.value) and "hunter2" not in str(caught.value)


def test_metrics_token_mode_without_a_token_is_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_METRICS_MODE": "token"})
    assert "needs a token" in " ".join(_problems(excinfo).values())


def test_telemetry_is_off_by_default_and_its_endpoint_is_an_http_url() -> None:
    assert load({}).telemetry.endpoint == ""
    given = load({"SONGTRACK_TELEMETRY_ENDPOINT": "http://collector:4318/v1/traces"}).telemetry
    assert (given.endpoint, given.service_name) == ("http://collector:4318/v1/traces", "songtrack")
    with pytest.raises(ConfigError) as excinfo:
        load({"SONGTRACK_TELEMETRY_ENDPOINT": "collector:4317"})
    assert "an http:// or https:// URL, or nothing" in " ".join(_problems(excinfo).values())
