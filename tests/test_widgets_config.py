"""The face browser widget and the reduced-mode switch."""

from __future__ import annotations

import numpy as np

from fer_kit import config
from fer_kit.widgets import ALL, FaceBrowser


def test_face_browser_filters_and_pages(ck_synth):
    browser = FaceBrowser(ck_synth, per_page=10)
    assert len(browser.selection()) == len(ck_synth)
    browser.cls.value = "contempt"
    assert np.array_equal(browser.selection(), ck_synth.where(label="contempt"))
    assert browser.page.max == (54 - 1) // 10 and f"<b>{54}</b>" in browser.status.value
    assert browser.picture.value[:4] == b"\x89PNG"
    subject = ck_synth.subjects[ck_synth.where(label="contempt")[0]]
    browser.subject.value = subject
    assert set(ck_synth.subjects[browser.selection()]) == {subject}
    assert browser.split.disabled  # CK+-style data has no source split
    browser.cls.value = ALL
    assert len(browser.selection()) == len(ck_synth.where(subject=subject))


def test_reduced_mode_env_can_only_shrink(monkeypatch):
    monkeypatch.delenv(config.REDUCED_ENV, raising=False)
    assert config.reduced_mode(False) is False and config.reduced_mode(True) is True
    monkeypatch.setenv(config.REDUCED_ENV, "1")
    assert config.reduced_mode(False) is True  # a lost parameters tag still runs reduced
    monkeypatch.setenv(config.REDUCED_ENV, "0")
    assert config.reduced_mode(False) is False


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "env"))
    assert config.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert config.data_dir() == tmp_path / "env"
    monkeypatch.delenv(config.DATA_ENV)
    assert config.data_dir() == config.DEFAULT_DATA_DIR.expanduser()
