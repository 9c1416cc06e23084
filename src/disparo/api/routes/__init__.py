"""The HTTP routes: the admin API (bots, shots, reports, imports), Telegram's webhook, health."""
