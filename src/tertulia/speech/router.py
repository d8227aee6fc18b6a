"""``GET /blobs/{key}?expires=&signature=``: serves stored audio to holders of a signed, unexpired URL.

Outside ``/v1/{organization}`` and without other authentication: the signature is the credential.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from tertulia.core.clock import utcnow
from tertulia.core.errors import Forbidden, NotFound

router = APIRouter(tags=["Blobs"])


@router.get("/blobs/{key:path}", include_in_schema=False, operation_id="get-blob")
async def get_blob(request: Request, key: str, expires: int = Query(...), signature: str = Query(...)) -> Response:
    runtime = request.app.state.runtime
    speech = runtime.speech
    if speech is None or runtime.blobs is None:
        raise NotFound("Not found.")
    if not speech.signer.verify(key, expires, signature, utcnow()):
        raise Forbidden("The URL is invalid or has expired.")
    blob = await runtime.blobs.get(key)
    if blob is None:
        raise NotFound("Not found.")
    return Response(
        blob.data,
        media_type=blob.content_type,
        headers={"Cache-Control": "private, max-age=60", "Content-Disposition": f'inline; filename="{key.rsplit("/", 1)[-1]}"'},
    )
