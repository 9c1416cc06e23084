"""The database exceptions callers outside db/ handle, so that only db/ imports SQLAlchemy."""

from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

__all__ = ["DataError", "IntegrityError", "InterfaceError", "OperationalError", "PoolTimeoutError"]
