"""One DSN parser for the URL form and the key=value form, used by the store spec and by
the PostgreSQL persistence module."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmcore.application.errors import ConfigurationError
from vmcore.composition.stores import StoreSpec
from vmcore_event_store.dsn import InvalidDsn, postgres_settings
from vmcore_event_store.postgres import environment_with_dsn

words = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1,
                max_size=12)  # fmt: skip
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,6}){0,2}", fullmatch=True)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@given(host=hosts, port=st.integers(1, 65535), user=words, password=words, dbname=words)
def test_the_url_and_key_value_forms_give_the_same_settings(
    host: str, port: int, user: str, password: str, dbname: str
) -> None:
    url = f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/" + quote(
        dbname, safe=""
    )
    pairs = f"host={host} port={port} user={_quoted(user)} password={_quoted(password)}" + (
        f" dbname={_quoted(dbname)}"
    )
    expected = {"POSTGRES_HOST": host, "POSTGRES_PORT": str(port), "POSTGRES_USER": user,
                "POSTGRES_PASSWORD": password, "POSTGRES_DBNAME": dbname}  # fmt: skip
    assert expected == postgres_settings(url) == postgres_settings(pairs)


@pytest.mark.parametrize("text", ["mysql://u@h/db", "garbage", "host='unterminated"])
def test_what_is_not_a_dsn_is_refused(text: str) -> None:
    with pytest.raises(InvalidDsn, match="not a PostgreSQL DSN"):
        postgres_settings(text)


def test_the_store_spec_and_the_persistence_module_read_a_dsn_alike() -> None:
    dsn = "host=db.example port=6543 user=alice password=s3cret dbname=vms"
    spec = StoreSpec.parse(f"postgres:{dsn}").env(environ={})
    module = environment_with_dsn({"VMCORE_POSTGRES_DSN": dsn})
    keys = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD",
            "POSTGRES_DBNAME")  # fmt: skip
    assert {k: spec[k] for k in keys} == {k: module.get(k) for k in keys}


def test_a_store_spec_with_a_bad_dsn_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a PostgreSQL DSN"):
        StoreSpec.parse("postgres:mysql://u@h/db").env(environ={})
