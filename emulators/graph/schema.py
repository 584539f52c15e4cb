"""Property types of Graph entities, read from the vendor OpenAPI extract (allOf bases included)."""
import functools
from dataclasses import dataclass

import yaml

from emulators.graph.errors import GraphError

_EDM = {"string": "Edm.String", "boolean": "Edm.Boolean", "integer": "Edm.Int32", "number": "Edm.Double",
        "date-time": "Edm.DateTimeOffset", "uuid": "Edm.Guid"}
_JSON_KIND = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


@dataclass(frozen=True)
class Field:
    """The declared type of one property: kind, element type for arrays, schema name for objects."""

    kind: str
    items: "Field | None" = None
    ref: str | None = None
    fmt: str | None = None
    nullable: bool = True

    @property
    def edm(self):
        """The Edm type name Graph uses in conversion errors."""
        return _EDM.get(self.fmt) or _EDM.get(self.kind) or f"microsoft.graph.{self.ref or self.kind}"


class Schema:
    """Component schemas of the extract, flattened to {property: Field} per entity."""

    def __init__(self, spec_path):
        self._schemas = _component_schemas(spec_path)

    @functools.lru_cache(maxsize=None)
    def fields(self, entity):
        """All properties of `microsoft.graph.<entity>` including those of its allOf bases."""
        schema = self._schemas[_qualified(entity)]
        out = {}
        for part in schema.get("allOf", [schema]):
            if "$ref" in part:
                out.update(self.fields(_ref_name(part["$ref"])))
            else:
                out.update({name: self._field(spec) for name, spec in part.get("properties", {}).items()})
        return out

    def _field(self, spec):
        """A Field from one property schema."""
        if "$ref" in spec:
            name = _ref_name(spec["$ref"])
            target = self._schemas[name]
            if "enum" in target:
                return Field("string")
            return Field("object", ref=name.removeprefix("microsoft.graph."), nullable=False)
        for alt in spec.get("anyOf", []) + spec.get("oneOf", []):
            if "$ref" in alt:
                return self._field(alt)
        kind = spec.get("type", "any")
        items = self._field(spec["items"]) if kind == "array" and "items" in spec else None
        return Field(kind, items=items, fmt=spec.get("format"), nullable=bool(spec.get("nullable")))

    def check_object(self, entity, obj):
        """Raise GraphError when obj has a property the type lacks or a value of the wrong JSON type."""
        fields = self.fields(entity)
        for name, value in obj.items():
            if "@" in name:
                continue  # OData annotations such as @odata.type
            field = fields.get(name)
            if field is None:
                raise GraphError(400, "Request_BadRequest",
                                 f"Property '{name}' does not exist on type '{_qualified(entity)}'. Make sure to "
                                 "only use property names that are defined by the type or mark the type as open type.")
            self.check_value(field, value)

    def check_value(self, field, value):
        """Raise GraphError when value does not fit field (null is accepted, as Graph does)."""
        if value is None or field.kind == "any":
            return
        kind = _JSON_KIND.get(type(value), "other")
        if field.kind == "number" and kind == "integer":
            return
        if kind != field.kind:
            raise _conversion_error(field, value, kind)
        if kind == "array" and field.items is not None:
            for item in value:
                self.check_value(field.items, item)
        elif kind == "object" and field.ref:
            self.check_object(field.ref, value)


@functools.lru_cache(maxsize=4)
def _component_schemas(spec_path):
    """components.schemas of the extract, parsed once per process."""
    with open(spec_path, encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return doc["components"]["schemas"]


def _conversion_error(field, value, kind):
    """The OData reader's complaint about a value of the wrong JSON type."""
    if kind in ("array", "object") or field.kind in ("array", "object"):
        node = {"array": "StartArray", "object": "StartObject"}
        found, wanted = node.get(kind, "PrimitiveValue"), node.get(field.kind, "PrimitiveValue")
        message = (f"An unexpected '{found}' node was found when reading from the JSON reader. "
                   f"A '{wanted}' node was expected.")
    else:
        literal = str(value).lower() if isinstance(value, bool) else value
        message = f"Cannot convert the literal '{literal}' to the expected type '{field.edm}'."
    return GraphError(400, "BadRequest", message)


def _qualified(entity):
    """'user' -> 'microsoft.graph.user'."""
    return entity if entity.startswith("microsoft.graph.") else f"microsoft.graph.{entity}"


def _ref_name(ref):
    """'#/components/schemas/X' -> 'X'."""
    return ref.rsplit("/", 1)[-1]
