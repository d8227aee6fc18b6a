"""tertulia: a self-hostable conversational-agent platform that speaks the Classic Amigo API."""

__version__ = "0.1.0"
