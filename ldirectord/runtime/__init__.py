"""The asyncio daemon: check loops, the controller (the only kernel writer), reload, stop."""
