#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countersign.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting is missing or wrong (SECRET_KEY with DEBUG off, say): the message says
        # which and what to do; a traceback would only bury it.
        sys.exit(f"countersign: {error}")


if __name__ == "__main__":
    main()
