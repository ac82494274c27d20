"""Registry, bad input and runtime errors: messages that name the bad value and the fix."""

from __future__ import annotations

import shutil

import pytest

import envs
from envs.errors import EnvRuntimeError, EnvUsageError
from envs.runtime import import_package, start_java_env


def test_list_names_every_family() -> None:
    ids = [s.env_id for s in envs.list()]
    assert ids == sorted(ids)
    for expected in (
        "twx-twc",
        "twx-cookingworld",
        "twx-coin",
        "twx-mapreader",
        "sciworld-find-living-thing",
        "sciworld-chemistry-mix-paint-secondary-color",
        "rg-gsm_symbolic",
        "rg-basic_arithmetic",
        "locomo",
        "memorybank",
    ):
        assert expected in ids
    assert all(s.presets and s.description for s in envs.list())


def test_unknown_id_suggests_the_closest() -> None:
    with pytest.raises(EnvUsageError, match=r"Unknown environment id 'twx-twcc'\. Did you mean 'twx-twc'"):
        envs.make("twx-twcc")


def test_unknown_id_without_close_match_lists_ids() -> None:
    with pytest.raises(EnvUsageError, match="Known ids: .*twx-twc"):
        envs.make("zzzzzzzz")


def test_unknown_parameter_of_fixed_signature_names_allowed() -> None:
    with pytest.raises(
        EnvUsageError, match=r"Unknown parameter 'shortlist'.*shortlist_k.*Did you mean 'shortlist_k'"
    ):
        envs.make("sciworld-find-plant", shortlist=5)


def test_errors_are_the_documented_kinds() -> None:
    assert issubclass(EnvUsageError, ValueError)
    assert issubclass(EnvRuntimeError, RuntimeError)


def test_missing_package_names_the_pip_command() -> None:
    with pytest.raises(EnvRuntimeError, match="not installed.*pip install"):
        import_package("no_such_env_package_xyz")


def test_missing_java_names_the_apt_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EnvRuntimeError, match="apt-get install -y openjdk-17-jre-headless"):
        start_java_env(lambda: object())


def test_jvm_start_failure_becomes_runtime_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/java")

    def boom() -> object:
        raise FileNotFoundError("java")

    with pytest.raises(EnvRuntimeError, match="FileNotFoundError.*openjdk-17"):
        start_java_env(boom)
