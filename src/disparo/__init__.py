"""Disparo: mass broadcasts (shots) to the contacts of Telegram bots."""

__version__ = "0.1.0"
