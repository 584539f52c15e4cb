"""The subset of Auth0's user-search Lucene syntax (search engine v3) the emulator understands.

Source: auth0/docs-v2 main/docs/manage-users/user-search/user-search-query-syntax.mdx — terms and
quoted phrases, `field:value`, AND/OR/NOT (capitalised), parentheses, `_exists_:field`, `*` wildcards,
`[a TO b]`/`{a TO b}` ranges with `*`, dotted paths that step through arrays (`identities.connection`),
`email.domain`; the normalised fields are matched case-insensitively, everything else case-sensitively.
Juxtaposed terms are ORed, Lucene's default operator.
"""
import re

from emulators.auth0.errors import Auth0Error

NORMALISED = ("email", "name", "given_name", "family_name", "nickname")
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<lp>\() | (?P<rp>\)) |
      (?P<field>[A-Za-z_][\w.\-]*):
        (?: "(?P<quoted>(?:\\.|[^"\\])*)" | (?P<range>[\[{][^\]}]*[\]}]) | (?P<word>(?:\\.|[^\s()])+) ) |
      "(?P<bare_quoted>(?:\\.|[^"\\])*)" |
      (?P<bare>(?:\\.|[^\s()])+)
    )""", re.X)
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT", "!": "NOT"}


def invalid(query):
    """400 for a query the parser rejects."""
    return Auth0Error(400, f"Invalid query: {query}", "invalid_query")


def compile_query(query):
    """A predicate user -> bool for a q= string (None/empty matches everyone)."""
    if not query or not query.strip():
        return lambda user: True
    tokens = _tokenize(query)
    parser = _Parser(tokens, query)
    predicate = parser.parse_or()
    if parser.pos != len(tokens):
        raise invalid(query)
    return predicate


def _tokenize(query):
    """Tokens: ('(' | ')' | 'AND' | 'OR' | 'NOT', None) or ('TERM', (field, kind, value))."""
    tokens, pos = [], 0
    query = query.rstrip()
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            raise invalid(query)
        pos = match.end()
        group = match.lastgroup
        if group in ("lp", "rp"):
            tokens.append(("(" if group == "lp" else ")", None))
        elif match.group("field"):
            tokens.append(("TERM", _term(match, query)))
        elif group == "bare" and match.group("bare") in _OPERATORS:
            tokens.append((_OPERATORS[match.group("bare")], None))
        else:
            text = match.group("bare") if group == "bare" else match.group("bare_quoted")
            kind = "quoted" if group == "bare_quoted" else "word"
            tokens.append(("TERM", (None, kind, _unescape(text))))
    return tokens


def _term(match, query):
    """(field, kind, value) of a `field:value` token."""
    field = match.group("field")
    if match.group("quoted") is not None:
        return field, "quoted", _unescape(match.group("quoted"))
    if match.group("range") is not None:
        return field, "range", _parse_range(match.group("range"), query)
    return field, "word", _unescape(match.group("word"))


def _unescape(text):
    """Drop Lucene backslash escapes."""
    return re.sub(r"\\(.)", r"\1", text)


def _parse_range(text, query):
    """(low, high, low_inclusive, high_inclusive); '*' means open."""
    parts = text[1:-1].split(" TO ")
    if len(parts) != 2:
        raise invalid(query)
    low, high = (p.strip().strip('"') for p in parts)
    return (None if low == "*" else low, None if high == "*" else high, text[0] == "[", text[-1] == "]")


class _Parser:
    """Recursive descent: or := and (OR? and)*; and := not (AND not)*; not := NOT not | atom."""

    def __init__(self, tokens, query):
        self.tokens, self.pos, self.query = tokens, 0, query

    def peek(self):
        """Kind of the next token, or None at the end."""
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def parse_or(self):
        """Disjunction; juxtaposition counts as OR."""
        parts = [self.parse_and()]
        while self.peek() in ("OR", "TERM", "(", "NOT"):
            if self.peek() == "OR":
                self.pos += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda user: any(p(user) for p in parts))

    def parse_and(self):
        """Conjunction."""
        parts = [self.parse_not()]
        while self.peek() == "AND":
            self.pos += 1
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else (lambda user: all(p(user) for p in parts))

    def parse_not(self):
        """Negation."""
        if self.peek() == "NOT":
            self.pos += 1
            inner = self.parse_not()
            return lambda user: not inner(user)
        return self.parse_atom()

    def parse_atom(self):
        """A term or a parenthesised sub-query."""
        kind = self.peek()
        if kind == "(":
            self.pos += 1
            inner = self.parse_or()
            if self.peek() != ")":
                raise invalid(self.query)
            self.pos += 1
            return inner
        if kind != "TERM":
            raise invalid(self.query)
        field, how, value = self.tokens[self.pos][1]
        self.pos += 1
        return _predicate(field, how, value)


def _predicate(field, how, value):
    """Predicate for one term."""
    if field == "_exists_":
        return lambda user: any(v not in (None, "", [], {}) for v in values_at(user, value))
    if field is None:
        needle = value.lower()
        return lambda user: any(needle in str(user.get(f) or "").lower() for f in NORMALISED)
    fold = field in NORMALISED or field == "email.domain"
    if how == "range":
        return lambda user: any(_in_range(v, value) for v in values_at(user, field))
    if how == "word" and "*" in value:
        pattern = re.compile(".*".join(re.escape(p) for p in value.split("*")), re.I if fold else 0)
        return lambda user: any(pattern.fullmatch(_text(v)) for v in values_at(user, field))
    if not fold and field != "email.domain":  # the common exact term: a cheap test first, then the full one
        parts, needle = tuple(field.split(".")), value
        return lambda user: _may_hold(user, parts, needle) and any(_equal(v, value, fold)
                                                                   for v in values_at(user, field))
    return lambda user: any(_equal(v, value, fold) for v in values_at(user, field))


def _may_hold(user, parts, needle):
    """False only when the path plainly cannot hold the literal: a string at a dict-only path that
    differs (most users, for an id search over 100,000 of them); anything else goes to the full test."""
    node = user
    for part in parts:
        if not isinstance(node, dict):
            return True  # an array on the way: the full test steps through it
        node = node.get(part)
        if node is None:
            return False
    return not isinstance(node, str) or node == needle


def values_at(obj, path):
    """All values at a dotted path, stepping through arrays (`identities.connection`)."""
    if path == "email.domain":
        email = obj.get("email") or ""
        return [email.rpartition("@")[2]] if "@" in email else []
    current = [obj]
    for part in path.split("."):
        nxt = []
        for item in current:
            for node in item if isinstance(item, list) else [item]:
                if isinstance(node, dict) and part in node:
                    nxt.append(node[part])
        current = nxt
    flat = []
    for item in current:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def _text(value):
    """A stored value as the index sees it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(stored, wanted, fold):
    """Exact match of one stored value against a query literal."""
    if isinstance(stored, (dict, list)) or stored is None:
        return False
    if isinstance(stored, (int, float)) and not isinstance(stored, bool):
        try:
            return float(wanted) == float(stored)
        except ValueError:
            return False
    text = _text(stored)
    return text.lower() == wanted.lower() if fold else text == wanted


def _in_range(stored, bounds):
    """Whether a stored scalar lies within a parsed range (numbers numerically, else as text)."""
    low, high, low_inc, high_inc = bounds
    if stored is None or isinstance(stored, (dict, list, bool)):
        return False
    numeric = isinstance(stored, (int, float))
    try:
        key = (lambda x: float(x)) if numeric else str
        value = key(stored)
        if low is not None and (value < key(low) or (value == key(low) and not low_inc)):
            return False
        return high is None or value < key(high) or (value == key(high) and high_inc)
    except ValueError:
        return False
