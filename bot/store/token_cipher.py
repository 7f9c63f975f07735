"""Encryption of stored Rollout tokens with rotatable Fernet keys."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.identity import SlackUser


class TokenCipher:
    """The first key encrypts, every key decrypts: rotation is "new key first, old keys after".

    The plaintext names its owner, so a ciphertext copied onto another user's row does not decrypt for them.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise TypeError("encryption keys must be a sequence of keys, not a single string")
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError):
            # `from None`: the rejected key must not travel along in the exception chain.
            raise ValueError("each encryption key must be a Fernet key (32 url-safe base64-encoded bytes)") from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, owner: SlackUser, token: str) -> str:
        return self._fernet.encrypt(_bind(owner, token).encode()).decode()

    def decrypt(self, owner: SlackUser, ciphertext: str) -> str | None:
        """The token, or None when no key fits or the ciphertext belongs to someone else."""
        try:
            plaintext = self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            return None
        prefix = _bind(owner, "")
        return plaintext.removeprefix(prefix) if plaintext.startswith(prefix) else None

    def reencrypt(self, ciphertext: str) -> str | None:
        """The same plaintext under the first key, or None when no key fits."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            return None


def _bind(owner: SlackUser, token: str) -> str:
    # Slack ids never contain "/" or newlines, so the prefix is unambiguous.
    return f"{owner.team_id}/{owner.user_id}\n{token}"
