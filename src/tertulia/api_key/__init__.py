"""API keys. Importing the package registers its side of the ports lower domains ask through."""

from tertulia.api_key import holders as _holders  # noqa: F401
