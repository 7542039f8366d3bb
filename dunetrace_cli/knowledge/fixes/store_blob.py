import hashlib

_blobs: dict[str, str] = {}


def store_blob(text: str) -> str:
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    _blobs[key] = text
    return key  # give the tool this key; the tool reads _blobs[key] itself
