"""
Upload a file with tuspy (Debian's python3-tuspy), a tus 1.0 client independent of ours, for
test/server/resumable.tuspy.test.ts.

    tuspy_upload.py ENDPOINT TOKEN FILE CHUNK_SIZE URL_STORE [STOP_AFTER]

The upload URL is kept in URL_STORE (tuspy's FileStorage), so a second run resumes the upload at
the server's offset. Prints one JSON line per PATCH: the offset it was sent from, the status
tuspy saw, the new offset and the OIP-Media-Id header. With STOP_AFTER the process dies after
that many PATCHes, like a client that was killed.
"""
import json
import os
import sys

from tusclient import client
from tusclient.storage import filestorage

endpoint, token, path, chunk_size, store = sys.argv[1:6]
stop_after = int(sys.argv[6]) if len(sys.argv) > 6 else None

tus = client.TusClient(endpoint, headers={'Authorization': 'Bearer ' + token})
uploader = tus.uploader(
    path,
    chunk_size=int(chunk_size),
    metadata={'filename': os.path.basename(path), 'filetype': 'application/octet-stream', 'access_level': 'public'},
    store_url=True,
    url_storage=filestorage.FileStorage(store),
)
size = uploader.get_file_size()
patches = 0
while uploader.offset < size:
    sent_from = uploader.offset
    uploader.upload_chunk()
    request = uploader.request
    print(json.dumps({
        'url': uploader.url,
        'from': sent_from,
        'status': request.status_code,
        'offset': uploader.offset,
        'mediaId': request.response_headers.get('oip-media-id'),
    }), flush=True)
    patches += 1
    if stop_after is not None and patches == stop_after:
        os._exit(3)
