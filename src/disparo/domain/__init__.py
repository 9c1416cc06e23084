"""Pure values and rules of Disparo: no I/O, no asyncio, stdlib only."""
