"""Preflight: is everything a buildsvc process needs there, and configured alike?

``checks`` holds one check per dependency (database and migrations, Redis, registry
login and push, Docker engine, PUBLIC_URL), ``registry_record`` the registry settings
each process records in Redis at startup and their comparison, ``command`` the
``buildsvc admin check`` command and the subsets ``serve`` and ``worker`` run first.
"""

from buildsvc.preflight.command import StartupCheckFailed, check_command, startup_checks

__all__ = ["StartupCheckFailed", "check_command", "startup_checks"]
