"""Shared fixtures: a seeded rng and the array backends."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never download: any URL but a local ``file://`` mirror fails loudly."""
    import urllib.request

    real = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        address = getattr(url, "full_url", url)
        if not str(address).startswith("file:"):
            raise AssertionError(f"a test tried to download {address}; tests must stay offline")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
