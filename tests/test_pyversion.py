"""The Python patch level warned about at start (`liaison bots`, `liaison bridge`)."""

from __future__ import annotations

import logging

import pytest

from bots import pyversion


def test_versions_without_the_email_and_zipfile_fixes_are_flagged() -> None:
    assert pyversion.required((3, 11, 7)) == (3, 11, 15)  # this machine's: before both fixes
    assert pyversion.required((3, 11, 14)) == (3, 11, 15)
    assert pyversion.required((3, 11, 15)) is None
    assert pyversion.required((3, 12, 12)) == (3, 12, 13)
    assert pyversion.required((3, 13, 12)) is None
    assert pyversion.required((3, 15, 0)) is None  # a newer series carries the fixes


def test_the_warning_is_logged_at_start(monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(pyversion.sys, "version_info", (3, 11, 7, "final", 0))
    with caplog.at_level(logging.WARNING, logger="bots.pyversion"):
        pyversion.warn_if_outdated()
    [record] = caplog.records
    assert record.minimum == "3.11.15" and record.python == "3.11.7"  # type: ignore[attr-defined]
    caplog.clear()
    monkeypatch.setattr(pyversion.sys, "version_info", (3, 11, 15, "final", 0))
    pyversion.warn_if_outdated()
    assert caplog.records == []
