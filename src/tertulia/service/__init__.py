"""Services and their version sets. Importing the package registers its cross-domain reference checks
(``usage.py``: agents and context graphs in use, which services exist)."""

from tertulia.service import usage as _usage  # noqa: F401
