"""HTTP layer: thin aiohttp handlers, one route module per domain, plus the shared
pieces they use (``keys``, ``middleware``, ``jsonio``, ``pagination``)."""
