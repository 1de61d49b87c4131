"""The webhook path: a verified delivery to recorded, queued and enqueued builds."""
