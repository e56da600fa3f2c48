"""A bounded walk over BER/DER before any parser sees the bytes.

Hostile input (truncated DER, lengths beyond the buffer, huge long-form lengths, deep nesting,
millions of tiny elements) is refused here in time linear in its size and with constant memory,
so the ASN.1 parser behind it only ever meets structurally sound data.
"""

from __future__ import annotations


class Malformed(ValueError):
    """The input is not the ASN.1 structure it claims to be; ``field`` names what was wrong."""

    def __init__(self, detail: str, field: str = "cms") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


MAX_DEPTH = 40
MAX_ELEMENTS = 500_000


def check_ber(data: bytes, *, field: str = "cms", max_depth: int = MAX_DEPTH,
              max_elements: int = MAX_ELEMENTS) -> None:
    """Raise ``Malformed`` unless ``data`` is exactly one well-formed BER element within the limits."""
    n = len(data)
    if n < 2:
        raise Malformed("the data is too short to be ASN.1", field)
    # One frame per open constructed element: (its end or -1 if indefinite, the byte limit it lives in)
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
            length = int.from_bytes(data[pos:pos + k], "big")
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
