"""OData `$filter` for directory objects: a tokenizer, a recursive-descent parser and a compiler.

Grammar (the subset Microsoft Graph serves for users and groups, Learn `graph/filter-query-parameter`):
  expr    := and ('or' and)*
  and     := unary ('and' unary)*
  unary   := 'not' unary | '(' expr ')' | call | operand (cmp operand | 'in' '(' literal (',' literal)* ')')
  call    := name '(' operand ',' operand ')'            startswith / endswith / contains
  operand := literal | path | path '/' ('any'|'all') '(' var ':' expr ')'
String literals are quoted with ' and a quote inside one is doubled (Learn `graph/query-parameters`).
"""
import re
from datetime import datetime, timezone

from emulators.graph.errors import GraphError, unsupported_query

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<num>-?\d+(?:\.\d+)?)(?![\w-])
  | (?P<name>[A-Za-z_$][\w$.]*(?:/[A-Za-z_$][\w$.]*)*)
  | (?P<punct>[(),:])
  )""", re.X)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"startswith", "endswith", "contains"}
# `ne`, `not` and `endsWith` need the advanced query parameters (Learn `graph/aad-advanced-queries`).
_ADVANCED_ONLY = {"ne", "not", "endswith"}
_KEYWORDS = {"null": None, "true": True, "false": False}


def _syntax_error(text, pos):
    return GraphError(400, "BadRequest", f"Invalid filter clause: syntax error at position {pos} in '{text}'.")


def tokenize(text):
    """[(kind, value, position)] for a $filter string."""
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise _syntax_error(text, pos)
        kind = match.lastgroup
        raw = match.group(kind)
        value = {"str": lambda r: r[1:-1].replace("''", "'"), "num": lambda r: float(r) if "." in r else int(r)
                 }.get(kind, lambda r: r)(raw)
        tokens.append((kind, value, match.start(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over the token list; produces a tuple AST."""

    def __init__(self, text):
        self.text, self.tokens, self.i = text, tokenize(text), 0

    def parse(self):
        node = self.expr()
        if self.i != len(self.tokens):
            raise _syntax_error(self.text, self.tokens[self.i][2])
        return node

    def peek(self, offset=0):
        i = self.i + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", None, len(self.text))

    def take(self, kind=None, value=None):
        tok = self.peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise _syntax_error(self.text, tok[2])
        self.i += 1
        return tok

    def word(self, offset=0):
        tok = self.peek(offset)
        return tok[1].lower() if tok[0] == "name" else None

    def expr(self):
        node = self.conj()
        while self.word() == "or":
            self.i += 1
            node = ("or", node, self.conj())
        return node

    def conj(self):
        node = self.unary()
        while self.word() == "and":
            self.i += 1
            node = ("and", node, self.unary())
        return node

    def unary(self):
        if self.word() == "not":
            self.i += 1
            return ("not", self.unary())
        if self.peek()[0] == "punct" and self.peek()[1] == "(":
            self.i += 1
            node = self.expr()
            self.take("punct", ")")
            return node
        if self.word() in _FUNCTIONS and self.peek(1)[1] == "(":
            return self.call()
        left = self.operand()
        op = self.word()
        if op == "in":
            self.i += 1
            return ("in", left, self.literal_list())
        if op not in _COMPARISONS:
            if left[0] == "any":
                return left
            raise _syntax_error(self.text, self.peek()[2])
        self.i += 1
        return ("cmp", op, left, self.operand())

    def call(self):
        name = self.take("name")[1].lower()
        self.take("punct", "(")
        first = self.operand()
        self.take("punct", ",")
        second = self.operand()
        self.take("punct", ")")
        return ("call", name, first, second)

    def literal_list(self):
        self.take("punct", "(")
        values = [self.literal()]
        while self.peek()[1] == ",":
            self.i += 1
            values.append(self.literal())
        self.take("punct", ")")
        return values

    def literal(self):
        tok = self.peek()
        if tok[0] in ("str", "num", "guid", "dt"):
            self.i += 1
            return tok[1]
        if tok[0] == "name" and tok[1].lower() in _KEYWORDS:
            self.i += 1
            return _KEYWORDS[tok[1].lower()]
        raise _syntax_error(self.text, tok[2])

    def operand(self):
        tok = self.peek()
        if tok[0] != "name" or tok[1].lower() in _KEYWORDS:
            return ("lit", self.literal())
        self.i += 1
        path = tok[1].split("/")
        if path[-1].lower() in ("any", "all") and self.peek()[1] == "(":
            return self.lambda_(path[:-1], path[-1].lower())
        return ("path", path)

    def lambda_(self, path, quantifier):
        self.take("punct", "(")
        var = self.take("name")[1]
        self.take("punct", ":")
        body = self.expr()
        self.take("punct", ")")
        return ("any", quantifier, path, var, body)


def parse(text):
    """The AST of a $filter expression (GraphError 400 on a syntax error)."""
    return _Parser(text).parse()


class _Compiler:
    """Turns an AST into a predicate over stored objects, checking names and types against the schema."""

    def __init__(self, schema, entity, advanced):
        self.schema, self.entity, self.advanced = schema, entity, advanced
        self.resource = entity[:1].upper() + entity[1:]

    def lookup(self, entity, name):
        """(canonical name, Field) of a property, matched case-insensitively as Graph does."""
        fields = self.schema.fields(entity)
        field = fields.get(name)
        if field is None:
            lowered = {key.lower(): key for key in fields}
            name = lowered.get(name.lower(), name)
            field = fields.get(name)
        if field is None:
            raise GraphError(400, "Request_BadRequest",
                             f"Could not find a property named '{name}' on type 'microsoft.graph.{entity}'.")
        return name, field

    def unsupported(self, what):
        return unsupported_query(f"Unsupported or invalid query filter clause specified for property '{what}' "
                                 f"of resource '{self.resource}'.")

    def need_advanced(self, op, what):
        if op in _ADVANCED_ONLY and not self.advanced:
            raise self.unsupported(what)

    def operand(self, node, scope):
        """(getter, Field or None, label) for a path or literal."""
        if node[0] == "lit":
            value = node[1]
            return (lambda obj: value), None, repr(value)
        if node[0] != "path":
            raise unsupported_query()
        path = node[1]
        if scope and path[0] == scope[0]:
            getter, field, rest = (lambda obj: obj), scope[1], path[1:]
        else:
            getter, field, rest = None, None, path
        for segment in rest:
            if field is not None and field.kind != "object":
                raise unsupported_query()
            name, sub = self.lookup(field.ref if field else self.entity, segment)
            getter = _chain(getter, name)
            field = sub
        return getter, field, "/".join(path)

    def compile(self, node, scope=None):
        kind = node[0]
        if kind in ("and", "or"):
            left, right = self.compile(node[1], scope), self.compile(node[2], scope)
            if kind == "and":
                return lambda obj: left(obj) and right(obj)
            return lambda obj: left(obj) or right(obj)
        if kind == "not":
            self.need_advanced("not", "not")
            inner = self.compile(node[1], scope)
            return lambda obj: not inner(obj)
        if kind == "cmp":
            return self.comparison(node[1], node[2], node[3], scope)
        if kind == "in":
            return self.membership(node[1], node[2], scope)
        if kind == "call":
            return self.function(node[1], node[2], node[3], scope)
        if kind == "any":
            return self.lambda_(node, scope)
        raise unsupported_query()

    def property_side(self, left, right, scope):
        """Order the operands as (property, literal); Graph needs exactly one property."""
        lget, lfield, label = self.operand(left, scope)
        rget, rfield, rlabel = self.operand(right, scope)
        if lfield is None and rfield is not None:
            lget, lfield, label, rget, rfield = rget, rfield, rlabel, lget, lfield
        if lfield is None or rfield is not None:
            raise unsupported_query()
        if lfield.kind in ("array", "object"):
            raise self.unsupported(label)
        return lget, lfield, label, rget(None)

    def comparison(self, op, left, right, scope):
        getter, field, label, literal = self.property_side(left, right, scope)
        if op == "ne" or (literal is None and op != "eq"):
            self.need_advanced("ne", label)
        if field.fmt == "date-time" and literal is not None:
            # Compare instants, not text: "…:00Z" and "…:00.5Z" do not order as strings do.
            want, raw = _instant(literal), getter
            if want is None:
                raise GraphError(400, "BadRequest", f"Invalid filter clause: '{literal}' is not a DateTimeOffset.")
            getter, literal = (lambda obj: _instant(raw(obj))), want
        want = _normalise(literal)
        if op in ("eq", "ne"):
            equal = lambda obj: _normalise(getter(obj)) == want  # noqa: E731
            return equal if op == "eq" else (lambda obj: not equal(obj))
        if want is None:
            raise self.unsupported(label)
        order = {"gt": lambda a: a > want, "ge": lambda a: a >= want,
                 "lt": lambda a: a < want, "le": lambda a: a <= want}[op]

        def ordered(obj):
            value = _normalise(getter(obj))
            return value is not None and type(value) is type(want) and order(value)
        return ordered

    def membership(self, left, values, scope):
        getter, field, label, _ = self.property_side(left, ("lit", ""), scope)
        wanted = {_normalise(v) for v in values}
        return lambda obj: _normalise(getter(obj)) in wanted

    def function(self, name, first, second, scope):
        getter, field, label = self.operand(first, scope)
        lit_get, lit_field, _ = self.operand(second, scope)
        if field is None or lit_field is not None or not isinstance(lit_get(None), str):
            raise unsupported_query()
        if name == "contains":
            raise self.unsupported(label)
        self.need_advanced(name, label)
        prefix = lit_get(None).casefold()
        test = (lambda s: s.casefold().startswith(prefix)) if name == "startswith" else \
            (lambda s: s.casefold().endswith(prefix))
        if field.kind == "array":
            return lambda obj: any(isinstance(s, str) and test(s) for s in getter(obj) or ())
        if field.kind != "string":
            raise self.unsupported(label)
        return lambda obj: isinstance(getter(obj), str) and test(getter(obj))

    def lambda_(self, node, scope):
        _, quantifier, path, var, body = node
        getter, field, label = self.operand(("path", path), scope)
        if field.kind != "array" or quantifier != "any":
            raise self.unsupported(label)
        test = self.compile(body, (var, field.items))
        return lambda obj: any(test(item) for item in getter(obj) or ())


def _chain(getter, name):
    """Getter of property `name` below an optional parent getter."""
    if getter is None:
        return lambda obj: obj.get(name)
    return lambda obj: (getter(obj) or {}).get(name)


def _instant(value):
    """A timezone-aware datetime from Graph's DateTimeOffset text, or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _normalise(value):
    """Directory string comparisons are case-insensitive; other values compare as they are."""
    return value.casefold() if isinstance(value, str) else value


def compile_filter(text, schema, entity, advanced=False):
    """(predicate, AST) for a $filter on entity; advanced = ConsistencyLevel eventual + $count=true."""
    ast = parse(text)
    return _Compiler(schema, entity, advanced).compile(ast), ast


def index_plan(ast, indexed):
    """[(property, [values])] whose matches contain every result, or None when a full scan is needed."""
    kind = ast[0]
    if kind == "cmp" and ast[1] == "eq":
        for prop, lit in ((ast[2], ast[3]), (ast[3], ast[2])):
            if prop[0] == "path" and len(prop[1]) == 1 and lit[0] == "lit":
                name = indexed.get(prop[1][0].lower())
                if name and isinstance(lit[1], str):
                    return [(name, [lit[1]])]
        return None
    if kind == "in" and ast[1][0] == "path" and len(ast[1][1]) == 1:
        name = indexed.get(ast[1][1][0].lower())
        return [(name, [v for v in ast[2] if isinstance(v, str)])] if name else None
    if kind == "and":
        return index_plan(ast[1], indexed) or index_plan(ast[2], indexed)
    if kind == "or":
        left, right = index_plan(ast[1], indexed), index_plan(ast[2], indexed)
        return left + right if left is not None and right is not None else None
    return None
