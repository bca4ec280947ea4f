"""Optional CDP JWT for subscribe messages (ES256; public market data does not need it).

Per the Coinbase docs: header `{"alg":"ES256","kid":<key name>,"nonce":<random>,"typ":"JWT"}`, claims
`iss="cdp"`, `sub`=key name, `nbf`=now, `exp`=now+120 s, and no `uri` claim for WebSocket JWTs.
A fresh token is made for every subscribe message. The private key is an EC P-256 key in PEM.
"""

from __future__ import annotations

import base64
import json
import secrets
import time


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CdpJwt:
    def __init__(self, key_name: str, private_key_pem: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from glue.errors import ConfigError

        try:
            key = load_pem_private_key(private_key_pem.replace("\\n", "\n").encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):  # ES256 signs with an EC key only
                raise TypeError(type(key).__name__)
            self._key: ec.EllipticCurvePrivateKey = key
        except (ValueError, TypeError) as exc:
            raise ConfigError("ingest.cdp_api_private_key is not a PEM EC private key",
                              "paste the key from the CDP portal into GLUE_INGEST__CDP_API_PRIVATE_KEY") from exc
        self.key_name = key_name

    def __call__(self) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = int(time.time())
        header = {"alg": "ES256", "kid": self.key_name, "nonce": secrets.token_hex(16), "typ": "JWT"}
        claims = {"iss": "cdp", "sub": self.key_name, "nbf": now, "exp": now + 120}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
