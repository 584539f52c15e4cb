"""`GET /openapi.json`: the OpenAPI 3.1 description of this API (service/openapi.yaml, read once)."""
import functools
import os

import yaml
from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)
SPEC_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "openapi.yaml")


@functools.cache
def description():
    """The description as a dict."""
    with open(SPEC_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@bp.get("/openapi.json")
def openapi():
    """The description as JSON."""
    return jsonify(description())
