"""Pure values and rules of Disparo: no I/O, no asyncio; the standard library, and scipy's
quantiles for the statistics (`stats`, imported on first use)."""
