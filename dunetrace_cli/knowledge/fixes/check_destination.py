from urllib.parse import urlsplit

ALLOWED_DOMAINS = {"example.com"}  # your own domains and known partners


def check_destination(address_or_url: str) -> None:
    host = urlsplit(address_or_url).hostname or address_or_url.rpartition("@")[2]
    if not any(host == d or host.endswith("." + d) for d in ALLOWED_DOMAINS):
        raise PermissionError(f"destination {address_or_url!r} is not allowlisted")
