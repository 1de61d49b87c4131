"""Preflight: is everything a buildsvc process needs there, and configured alike?

``result`` is what a check answers (``Check``: ok, or one line with its fix);
``checks`` holds the checks of the database and its migrations, Redis, the Docker engine
and PUBLIC_URL; ``registry_push`` the registry login and push; ``registry_record`` the
registry settings each process records in Redis at startup, and their comparison;
``command`` the ``buildsvc admin check`` command and the subsets ``serve`` and ``worker``
run before they start.
"""

from buildsvc.preflight.command import StartupCheckFailed, check_command, startup_checks

__all__ = ["StartupCheckFailed", "check_command", "startup_checks"]
