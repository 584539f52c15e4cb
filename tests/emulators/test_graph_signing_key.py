"""The Graph emulator signs every token with one key, even when the first token requests arrive together."""
from concurrent.futures import ThreadPoolExecutor

from emulators.graph import tokens


def test_concurrent_first_calls_share_one_signing_key():
    tokens._make_signing_key.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        kids = {kid for _pem, _public, kid in pool.map(lambda _: tokens.signing_key(), range(8))}
    assert len(kids) == 1 and tokens.signing_key()[2] in kids
