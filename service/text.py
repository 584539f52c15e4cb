"""Text the companion can store and forward: valid Unicode without control characters."""
import unicodedata


def problem(value):
    """Why value cannot be stored or sent on (NUL, control character, lone surrogate), or None."""
    for char in value:
        if char == "\x00":
            return "holds a NUL character"
        if "\ud800" <= char <= "\udfff":
            return "holds text that is not valid Unicode (a lone surrogate)"
        if unicodedata.category(char) == "Cc":
            return "holds a control character"
    return None


def storable(value):
    """True when value is text PostgreSQL and Graph accept (no NUL, no lone surrogate)."""
    return "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)
