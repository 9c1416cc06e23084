"""Outgoing webhooks on the way out: the loop that delivers the outbox."""
