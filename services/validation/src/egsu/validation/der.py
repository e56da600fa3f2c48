"""A bounded walk over BER/DER before any parser sees the bytes.

Hostile input (truncated DER, lengths beyond the buffer, huge long-form lengths, deep nesting,
millions of tiny elements) is refused here in time linear in its size and with constant memory,
so the ASN.1 parser behind it only ever meets structurally sound data.
"""

from __future__ import annotations

from typing import Any


class Malformed(ValueError):
    """The input is not the ASN.1 structure it claims to be; ``field`` names what was wrong."""

    def __init__(self, detail: str, field: str = "cms") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


MAX_DEPTH = 40
MAX_ELEMENTS = 500_000


def check_ber(
    data: bytes, *, field: str = "cms", max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS
) -> None:
    """Raise ``Malformed`` unless ``data`` is one well-formed BER element within the limits."""
    n = len(data)
    if n < 2:
        raise Malformed("the data is too short to be ASN.1", field)
    # One frame per open constructed element: (its end or -1 if indefinite, its byte limit)
    stack: list[tuple[int, int]] = []
    pos = 0
    count = 0
    while True:
        while stack and stack[-1][0] == pos:
            stack.pop()
        if not stack and pos > 0:
            break
        limit = stack[-1][1] if stack else n
        if stack and stack[-1][0] == -1:
            if pos + 2 > limit:
                raise Malformed("an indefinite-length element is not closed", field)
            if data[pos] == 0 and data[pos + 1] == 0:
                pos += 2
                stack.pop()
                continue
        if pos >= limit:
            raise Malformed("truncated structure", field)
        count += 1
        if count > max_elements:
            raise Malformed("too many ASN.1 elements", field)
        first = data[pos]
        pos += 1
        if first & 0x1F == 0x1F:  # high tag number: at most 4 more bytes
            for i in range(5):
                if pos >= limit:
                    raise Malformed("truncated tag", field)
                b = data[pos]
                pos += 1
                if not b & 0x80:
                    break
                if i == 3:
                    raise Malformed("tag number too large", field)
        if pos >= limit:
            raise Malformed("truncated length", field)
        lb = data[pos]
        pos += 1
        constructed = bool(first & 0x20)
        if lb == 0x80:
            if not constructed:
                raise Malformed("indefinite length on a primitive element", field)
            if len(stack) >= max_depth:
                raise Malformed("nesting too deep", field)
            stack.append((-1, limit))
            continue
        if lb & 0x80:
            k = lb & 0x7F
            if k > 4:
                raise Malformed("length field too large", field)
            if pos + k > limit:
                raise Malformed("truncated length", field)
            length = int.from_bytes(data[pos : pos + k], "big")
            pos += k
        else:
            length = lb
        end = pos + length
        if end > limit:
            raise Malformed("a length exceeds the data", field)
        if constructed and length:
            if len(stack) >= max_depth:
                raise Malformed("nesting too deep", field)
            stack.append((end, end))
        else:
            pos = end
    if pos != n:
        raise Malformed("trailing data after the structure", field)


def encoded(value: Any) -> bytes:
    """The exact bytes an asn1crypto value was read from.

    asn1crypto's ``dump()`` re-encodes any value whose header happens to end in 0x80 (it takes that
    for an indefinite length), which changes signed bytes and fails on algorithms it does not know;
    so signed parts are always taken from the original header and contents.
    """
    from asn1crypto.core import Choice

    while isinstance(value, Choice) and not value.explicit and not value.implicit:
        value = value.chosen  # an untagged CHOICE is encoded as its alternative
    return bytes(value._header) + bytes(value.contents or b"") + bytes(value._trailer or b"")


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """(tag byte, start of contents, end) of the definite-length element at ``pos``."""
    if pos + 2 > len(data):
        raise Malformed("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise Malformed("unexpected high tag number")
    lb = data[pos + 1]
    start = pos + 2
    if lb & 0x80:
        k = lb & 0x7F
        if k == 0 or k > 4 or start + k > len(data):
            raise Malformed("bad length")
        length = int.from_bytes(data[start : start + k], "big")
        start += k
    else:
        length = lb
    end = start + length
    if end > len(data):
        raise Malformed("a length exceeds the data")
    return tag, start, end


def children(data: bytes, tag: int | None = None) -> list[bytes]:
    """The encoded child elements of one constructed element (checking its tag if given)."""
    t, start, end = read_tlv(data)
    if tag is not None and t != tag:
        raise Malformed(f"expected tag {tag:#x}, found {t:#x}")
    out = []
    pos = start
    while pos < end:
        _, _, e = read_tlv(data[:end], pos)
        out.append(data[pos:e])
        pos = e
    return out


def contents_of(element: bytes) -> bytes:
    _, start, end = read_tlv(element)
    return element[start:end]
