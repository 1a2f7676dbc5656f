"""`uhadmin.domain` loads its submodules on first use: every name it exports still resolves,
to the very object its submodule defines."""

from __future__ import annotations

import importlib

import pytest

import uhadmin.domain as domain


def test_every_exported_name_resolves_to_its_submodules_object():
    assert sorted(domain.__all__) == sorted(domain._HOME_OF)
    for name in domain.__all__:
        home = importlib.import_module(domain._HOME_OF[name])
        assert getattr(domain, name) is getattr(home, name), name


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        domain.Nothing  # noqa: B018
