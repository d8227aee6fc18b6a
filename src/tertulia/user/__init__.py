"""Users and their data (memories, user model). Importing the package registers its side of the ports lower domains ask through."""

from tertulia.user import holders as _holders  # noqa: F401
