"""The worker: claim due shots, snapshot their audience, reserve, send, record, finish, rescue."""
