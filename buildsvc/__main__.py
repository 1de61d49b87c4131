"""``python -m buildsvc`` is the ``buildsvc`` command."""

from buildsvc.cli import main

main(prog_name="buildsvc")
