"""Salted pseudonyms for exported user ids (SPEC §6)."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.privacy import pseudonymise, pseudonymise_frame

SALT = "class-of-2025"


def test_value_is_sha256_of_salt_colon_id_first_16_hex():
    expected = hashlib.sha256(f"{SALT}:1m_42".encode()).hexdigest()[:16]
    out = pseudonymise(["1m_42"], SALT)
    assert out.tolist() == [expected]
    assert len(out[0]) == 16 and all(ch in "0123456789abcdef" for ch in out[0])


def test_stable_across_calls_and_repeats():
    ids = ["u1", "u2", "u1", "u3"]
    a, b = pseudonymise(ids, SALT), pseudonymise(ids, SALT)
    assert a.tolist() == b.tolist()
    assert a[0] == a[2] and a[0] != a[1]


def test_different_salt_gives_different_ids():
    ids = [f"u{i}" for i in range(100)]
    a, b = pseudonymise(ids, SALT), pseudonymise(ids, SALT + "x")
    assert not set(a) & set(b)


def test_no_collisions_on_10000_ids():
    out = pseudonymise(np.arange(10_000), SALT)
    assert len(set(out)) == 10_000


def test_original_ids_absent_from_output():
    ids = [f"1m_{i}" for i in range(1, 501)] + list(range(1, 501))
    out = pseudonymise(ids, SALT)
    originals = {str(i) for i in ids}
    assert not originals & set(out)
    assert not any(orig in p for p in out for orig in ("1m_1", "1m_42"))


def test_series_keeps_index_and_name():
    s = pd.Series(["a", "b", "a"], index=[10, 20, 30], name="user")
    out = pseudonymise(s, SALT)
    assert isinstance(out, pd.Series)
    assert out.index.tolist() == [10, 20, 30] and out.name == "user"
    assert out.iloc[0] == out.iloc[2] == pseudonymise(["a"], SALT)[0]


@pytest.mark.parametrize("salt", ["", "   ", None])
def test_empty_salt_is_refused(salt):
    with pytest.raises(ConfigError, match="a salt is required: an unsalted hash of a small id space can be reversed"):
        pseudonymise(["u1"], salt)
    with pytest.raises(ConfigError, match="a salt is required"):
        pseudonymise_frame(pd.DataFrame({"user": ["u1"]}), salt)


def test_missing_id_is_refused():
    with pytest.raises(DataValidationError, match="missing"):
        pseudonymise(["u1", None], SALT)


def test_frame_column_replaced_and_others_untouched():
    df = pd.DataFrame({"user": ["u1", "u2", "u1"], "item": ["a", "b", "c"], "score": [0.9, 0.5, 0.1]})
    original = df.copy()
    out = pseudonymise_frame(df, SALT)
    pd.testing.assert_frame_equal(df, original)  # the input is not modified
    assert out["user"].tolist() == pseudonymise(df["user"], SALT).tolist()
    pd.testing.assert_frame_equal(out.drop(columns="user"), df.drop(columns="user"))
    assert list(out.columns) == list(df.columns) and out.index.equals(df.index)


def test_frame_other_column_and_missing_column():
    df = pd.DataFrame({"user_id": [1, 2], "rank": [1, 2]})
    out = pseudonymise_frame(df, SALT, col="user_id")
    assert out["user_id"].tolist() == pseudonymise([1, 2], SALT).tolist()
    with pytest.raises(DataValidationError, match="column 'user' not found"):
        pseudonymise_frame(df, SALT)


def test_report_salt_prefers_config_then_env_then_a_random_unsaved_salt(monkeypatch):
    from rec_helpers.privacy import report_salt

    monkeypatch.delenv("REC_SUITE_SALT", raising=False)
    assert report_salt({"report": {"pseudonymise": False, "salt": "x"}}) is None
    assert report_salt({"report": {"pseudonymise": True, "salt": "secret"}}) == "secret"
    monkeypatch.setenv("REC_SUITE_SALT", "from-env")
    assert report_salt({"report": {"pseudonymise": True, "salt": None}}) == "from-env"
    monkeypatch.delenv("REC_SUITE_SALT")
    random_salt = report_salt({"report": {"pseudonymise": True, "salt": None}})
    assert len(random_salt) == 32 and random_salt == report_salt({"report": {"pseudonymise": True}})


def test_export_rankings_pseudonymises_and_leaves_the_run_untouched(tmp_path, monkeypatch):
    import pandas as pd

    from rec_helpers.cli import main
    from rec_helpers.runfolder import RunFolder

    run = RunFolder.create(tmp_path / "run")
    ranking = pd.DataFrame({"user": ["1m_7", "1m_7", "1m_9"], "item": ["a", "b", "a"], "rank": [1, 2, 1],
                            "score": [0.9, 0.5, 0.7]})
    run.write_parquet("rankings/vae.parquet", ranking)
    before = run.file("rankings/vae.parquet").read_bytes()
    monkeypatch.setenv("REC_SUITE_SALT", "class-secret")
    assert main(["export", str(run.path)]) == 0
    out = pd.read_parquet(run.file("export/cold_test_vae.parquet"))
    assert not set(out["user"]) & {"1m_7", "1m_9"}
    assert out["user"].nunique() == 2 and out[["item", "rank", "score"]].equals(ranking[["item", "rank", "score"]])
    assert run.file("rankings/vae.parquet").read_bytes() == before
    assert main(["export", str(tmp_path / "missing")]) == 2  # a clear error, exit code 2
