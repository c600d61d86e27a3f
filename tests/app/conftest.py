"""The dashboard driven headless by Streamlit's AppTest."""

from __future__ import annotations

import pytest
from app_driver import APP
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
