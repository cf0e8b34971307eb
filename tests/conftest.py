"""Shared fixtures: real builds of the sample crates, made once per test session.

Integration tests use the real toolchain. A missing tool is a test failure,
never a skip: `require_tool` raises instead of skipping.
"""

from __future__ import annotations

import signal

import pytest

from tests.support.builds import Built, cached_build

# A shell without job control starts its background commands (`pytest ... &`, nohup)
# with SIGINT ignored, and an ignored signal stays ignored in every child: the tests
# that interrupt a build, a server or a tool with Ctrl-C's signal would then see it do
# nothing. A handled signal is reset to the default in a child, so handling it here
# gives every child the disposition a terminal's Ctrl-C meets.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def hello_unwind() -> Built:
    return cached_build("hello-worker", "unwind")


@pytest.fixture(scope="session")
def hello_unwind_generic() -> Built:
    return cached_build("hello-worker", "unwind-generic")


@pytest.fixture(scope="session")
def hello_unwind_message() -> Built:
    return cached_build("hello-worker", "unwind-message")


@pytest.fixture(scope="session")
def hello_abort() -> Built:
    return cached_build("hello-worker", "abort")


@pytest.fixture(scope="session")
def pure_unwind() -> Built:
    return cached_build("pure-exports", "unwind")


@pytest.fixture(scope="session")
def pure_exnref() -> Built:
    return cached_build("pure-exports", "unwind-exnref")


@pytest.fixture(scope="session")
def pure_abort() -> Built:
    return cached_build("pure-exports", "abort")


@pytest.fixture(scope="session")
def types_unwind() -> Built:
    return cached_build("bindgen-types", "unwind")
