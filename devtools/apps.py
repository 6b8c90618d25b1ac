from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """The demo office and the benchmark: tools for developers, never part of
    the product. Installed by default so that ``make run`` (``seed_demo``) and
    ``manage.py bench`` work on a fresh checkout; production sets
    ``MAILADMIN_DEVTOOLS=0`` and runs without it. The product apps never
    import this one (a test reads their sources to keep it so)."""

    name = "devtools"
    verbose_name = "Developer tools (demo and benchmark)"
