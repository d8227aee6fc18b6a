"""Who is calling: sign-in with an API key (``router.py``/``service.py``) and loading the principal behind a token
(``principals.py``; ``loading.py`` is the one-statement loader). ``auth`` (the foundation every domain imports) asks
for principals through the ``PrincipalLoader`` port that ``app.create_app`` installs.
"""
