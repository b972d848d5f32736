"""C2SP signed notes with Ed25519 keys: signing, verifying, and key files.

A signed note (https://c2sp.org/signed-note) is UTF-8 text ending in a newline, a blank
line, then one line per signature::

    — <key name> <base64(key hash (4 bytes) || signature)>

where the key hash is the first 4 bytes of ``SHA-256(key name || 0x0A || 0x01 || public
key)`` (0x01: Ed25519) and the signature covers the text, final newline included.

Keys use the formats of Go's ``golang.org/x/mod/sumdb/note``, so other tools read them:
a verifier key ``<name>+<hex key hash>+<base64(0x01 || public key)>`` and a signer key
``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>``. :func:`generate_key` writes
the signer key to a file created with mode 0600 (and refuses to overwrite one);
:func:`load_signer` refuses a key file that others can read. A signer's ``repr`` never shows
the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from synthfactory.provenance.errors import NoteError

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class NoteVerifier:
    """A named Ed25519 public key that checks note signatures."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != 32:
            raise NoteError(f"key {self.name}: an Ed25519 public key has 32 bytes")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key hash that prefixes this key's signatures."""
        return key_hash(self.name, self.public_key)

    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex id>+<base64(0x01 || key)>``."""
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def from_vkey(cls, text: str) -> NoteVerifier:
        """Parse a verifier key string (as written by :meth:`vkey`)."""
        parts = text.strip().split("+", 2)  # base64 may hold '+'; a name may not
        if len(parts) != 3:
            raise NoteError("a verifier key reads <name>+<hex key hash>+<base64 key>")
        name, hex_id, blob = parts
        try:
            raw = base64.b64decode(blob, validate=True)
            want = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError(f"verifier key {name!r}: bad hex or base64") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError(f"verifier key {name!r}: not an Ed25519 key")
        verifier = cls(name, raw[1:])
        if verifier.key_id != want:
            raise NoteError(f"verifier key {name!r}: key hash does not match the key")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """A named Ed25519 private key that signs notes. Its repr never shows the key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = NoteVerifier(name, public)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A fresh random key."""
        return cls(name, Ed25519PrivateKey.generate())

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.verifier.key_id.hex()})"

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def signature_line(self, text: str) -> str:
        """The note signature line (newline included) of ``text``."""
        sig = self.verifier.key_id + self.sign(text.encode())
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(sig).decode()}\n"

    def skey(self) -> str:
        """The signer key string; only ever written to a 0600 file."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        blob = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    @classmethod
    def from_skey(cls, text: str) -> NoteSigner:
        """Parse a signer key string (as written by :meth:`skey`)."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key reads PRIVATE+KEY+<name>+<hex key hash>+<base64 key>")
        name, hex_id, blob = parts[2:]
        try:
            raw = base64.b64decode(blob, validate=True)
            want = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError(f"signer key {name!r}: bad hex or base64") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError(f"signer key {name!r}: not an Ed25519 key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id != want:
            raise NoteError(f"signer key {name!r}: key hash does not match the key")
        return signer


def public_key_path(private_path: Path) -> Path:
    """Where :func:`generate_key` puts the verifier key: beside the signer key, ``.pub``."""
    return private_path.with_name(private_path.name + ".pub")


def generate_key(path: str | os.PathLike[str], name: str) -> NoteVerifier:
    """Create a signer key at ``path`` (mode 0600, never overwritten) and its ``.pub``.

    Returns the verifier key, which belongs in the run manifest and with every verifier.
    """
    target = Path(path)
    signer = NoteSigner.generate(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: never clobber an existing key, which would orphan every checkpoint it signed.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise NoteError(f"{target} exists; refusing to overwrite a signing key") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(signer.skey() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    public_key_path(target).write_text(signer.verifier.vkey() + "\n")
    return signer.verifier


def load_signer(path: str | os.PathLike[str]) -> NoteSigner:
    """Read a signer key file; refuses one that group or others may read."""
    target = Path(path)
    try:
        mode = target.stat().st_mode
        text = target.read_text()
    except OSError as err:
        raise NoteError(f"cannot read signing key {target}: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NoteError(f"signing key {target} is readable by others; chmod 600 {target}")
    return NoteSigner.from_skey(text)


def load_verifier(source: str | os.PathLike[str] | NoteVerifier) -> NoteVerifier:
    """A verifier key from a :class:`NoteVerifier`, a vkey string, or a file holding one."""
    if isinstance(source, NoteVerifier):
        return source
    text = str(source)
    if isinstance(source, str) and "+" in text and "\n" not in text.strip():
        try:
            return NoteVerifier.from_vkey(text)
        except NoteError:
            pass  # not a key string after all: try it as a path
    try:
        return NoteVerifier.from_vkey(Path(source).read_text())
    except OSError as err:
        raise NoteError(f"cannot read public key {source}: {err.strerror}") from None


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """The text (final newline included) and the signatures of a signed note."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    signatures = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line[:40]!r}")
        try:
            name, blob = line[len(SIGNATURE_PREFIX) :].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError(f"malformed signature line {line[:40]!r}") from None
        if len(raw) < 5:
            raise NoteError(f"signature by {name!r} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("signed note without signatures")
    return text, signatures


def verify_note(note: str, verifier: NoteVerifier) -> str:
    """The note's text if ``verifier`` signed it; :class:`NoteError` otherwise."""
    text, signatures = split_note(note)
    for sig in signatures:
        if sig.name == verifier.name and sig.key_id == verifier.key_id:
            if verifier.verify(text.encode(), sig.signature):
                return text
            raise NoteError(f"the signature by key {verifier.name!r} does not verify")
    raise NoteError(f"the note carries no signature by key {verifier.name!r}")


def sign_note(text: str, signer: NoteSigner) -> str:
    """A new signed note of ``text`` (which must end with a newline)."""
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with a newline and has no blank line")
    return text + "\n" + signer.signature_line(text)


def add_signature(note: str, signer: NoteSigner) -> str:
    """``note`` with one more signature line (a cosignature) by ``signer``."""
    text, _ = split_note(note)
    return note + signer.signature_line(text)


__all__ = [
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "add_signature",
    "generate_key",
    "key_hash",
    "load_signer",
    "load_verifier",
    "public_key_path",
    "sign_note",
    "split_note",
    "verify_note",
]
