"""Organizations. Importing the package registers its side of the ports lower domains ask through."""

from tertulia.organization import users as _users  # noqa: F401
