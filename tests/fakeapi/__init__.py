"""A faithful fake of the Dunetrace Customer API for tests and benchmarks.

``FakeApi`` answers ``httpx`` requests in process (``fake.transport()`` for an
``AsyncClient``, ``httpx.MockTransport(fake.handle)`` for a sync ``Client``), and
``serve(fake)`` puts it on a loopback port. Data and oracles live in
``tests/data/real-api`` (March 2026 server) and ``tests/data/real-api-latest``.
"""

from ._core import DATA_DIR, FakeApi, load_capture, load_dataset
from ._server import serve

__all__ = ["DATA_DIR", "FakeApi", "load_capture", "load_dataset", "serve"]
