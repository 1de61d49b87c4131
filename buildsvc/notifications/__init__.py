"""Notifications: an image repository's events, sent to webhooks and Slack.

=============  ==================================================================
module         holds
=============  ==================================================================
``events``     event names, payloads, ``emit`` (and the state machine's hook)
``intake``     the same for builds queued on the webhook path (raw statements)
``targets``    the targets' service: create (URL checked, secret made), change, test
``messages``   the Standard Webhooks request and the Slack message
``http``       the address policy for target URLs, and one pinned POST
``jobs``       the worker's side: one arq job per target, backoff, disabling
=============  ==================================================================

Other packages record an event with ``emit(session, repository_id, event, data)`` in
the transaction that made it happen (the registry's ``image.pushed``/``tag.deleted``).
"""

from buildsvc.notifications.events import Event, emit

__all__ = ["Event", "emit"]
