"""The db layer's error root, and the database exceptions callers outside db/ handle, so that
only db/ imports SQLAlchemy."""

from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from disparo.errors import DisparoError


class StoreError(DisparoError):
    """Stored data or the database settings cannot be used as they are."""


__all__ = [
    "DataError",
    "IntegrityError",
    "InterfaceError",
    "OperationalError",
    "PoolTimeoutError",
    "StoreError",
]
