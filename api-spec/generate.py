#!/usr/bin/env python3
"""Generates api-spec/openapi.yaml from the router's own route table.

The committed openapi.yaml is the source of truth: this script only drafts
it, and its output is reviewed before it is committed. tests/openapi.rs fails
when the spec and the router disagree, and tells you to run this.

    api-spec/generate.py                  # routes from `cargo test`, schemas kept
    api-spec/generate.py --bao            # also pull descriptions/types from OpenBao
    api-spec/generate.py --routes r.json --reference bao.json

Where a field's schema and description come from, first found wins:
  1. the committed openapi.yaml (hand edits survive regeneration),
  2. the reference document: OpenBao's own /v1/sys/internal/specs/openapi
     with one mount of every type at its default path (`--bao` starts a dev
     OpenBao from PATH and fetches it; `--reference FILE` reads a saved one),
  3. the name rules in FIELD_RULES below, else a string.
Everything structural (paths, methods, path parameters, LIST as
`GET ?list=true`, x-vault-unauthenticated/sudo, responses) comes from the
route table and the tables in this file.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml  # PyYAML

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPEC = os.path.join(HERE, "openapi.yaml")

DURATION = {
    "type": ["integer", "string"],
    "description": "",
    "x-vaultlet-format": "duration",
}
STRINGS = {"type": "array", "items": {"type": "string"}}

# (regex on the field name, schema) for fields neither source describes.
FIELD_RULES = [
    (r"(^|_)ttl$|^period$|^token_period$|^increment$|_duration$|^lease$|^safety_buffer$"
     r"|^pause_duration$|^interval_duration$|^expiry$|^not_before_duration$|_max_age$|^leeway$"
     r"|^clock_skew_leeway$|^expiration_leeway$|^not_before_leeway$",
     DURATION),
    (r"^(allow|allowed|enforce|require|use|no|bind|exclude|generate|add|basic|disable|enable|"
     r"server|client|code|email|local|exported|include|tidy|auto|remove|ocsp|cross|verify|"
     r"should|delta|unified|skip|revoke|key_usage_strict|not_before_)",
     {"type": "boolean"}),
    (r"(^|_)(num_uses|bits|limit|max_path_length|uses|ttl_seconds|num|count|after)$",
     {"type": "integer"}),
    (r"(^|_)(policies|cidrs|cidr_list|alt_names|ip_sans|uri_sans|other_sans|domains|"
     r"audiences|claims_supported|names|urls|organization|ou|country|locality|province|"
     r"street_address|postal_code|serial_numbers|ext_key_usage|key_usage|paths)$",
     STRINGS),
    (r"^(meta|metadata|options|config|bound_claims|claim_mappings|token_metadata)$",
     {"type": "object"}),
]

_B, _I, _S, _O = {"type": "boolean"}, {"type": "integer"}, {"type": "string"}, {"type": "object"}
# Fields OpenBao's document does not describe (or describes loosely), by name.
KNOWN = {
    "add_basic_constraints": _B, "after": _S, "allow_token_displayname": _B,
    "allowed_redirect_uris": STRINGS, "bound_cidrs": STRINGS, "bound_claims": _O,
    "bound_claims_type": {"type": "string", "enum": ["string", "glob"], "default": "string"},
    "bound_subject": _S, "callback_mode": _S, "cert_metadata": _S, "claim_mappings": _O,
    "cross_cluster_revocation": _B, "csr": _S, "enforce_leaf_not_after_behavior": _B,
    "excluded_dns_domains": STRINGS, "excluded_email_addresses": STRINGS,
    "excluded_ip_ranges": STRINGS, "excluded_uri_domains": STRINGS,
    "permitted_dns_domains": STRINGS, "permitted_email_addresses": STRINGS,
    "permitted_ip_ranges": STRINGS, "permitted_uri_domains": STRINGS,
    "groups_claim": _S, "issuer_name": _S, "key_name": _S, "key_type": _S,
    "jwks_pairs": {"type": "array", "items": _O}, "key_bits": _I, "key_usage": STRINGS,
    "limit": _I, "managed_key_id": _S, "managed_key_name": _S, "max_age": DURATION,
    "max_crl_entries": _I, "max_path_length": _I, "no_store_metadata": _B,
    "not_before_duration": DURATION, "num_uses": _I, "oidc_scopes": STRINGS,
    "period": DURATION, "ttl": DURATION, "max_ttl": DURATION, "policies": STRINGS,
    "poll_interval": _I, "revocation_queue_safety_buffer": DURATION, "role_cache_size": _I,
    "role_type": {"type": "string", "enum": ["jwt", "oidc"]}, "serial_number_source": _S,
    "token_bound_cidrs": STRINGS, "token_explicit_max_ttl": DURATION,
    "token_max_ttl": DURATION, "token_no_default_policy": _B, "token_num_uses": _I,
    "token_period": DURATION, "token_policies": STRINGS, "token_ttl": DURATION,
    "token_type": _S, "unified_crl": _B, "unified_crl_on_existing_paths": _B,
    "unsupported_critical_cert_extensions": STRINGS,
    "use_annotations_as_alias_metadata": _B, "user_claim": _S,
    "user_claim_json_pointer": _B, "verbose_oidc_logging": _B,
}

# Error responses every logical route may answer (Vault's mapping, src/http).
ERRORS = {
    "400": "#/components/responses/BadRequest",
    "403": "#/components/responses/PermissionDenied",
    "404": "#/components/responses/NotFound",
    "405": "#/components/responses/UnsupportedOperation",
    "500": "#/components/responses/InternalError",
    "503": "#/components/responses/Sealed",
}

# Raw bodies from PKI fetch paths: mount-relative pattern → content type.
PKIX_CERT = "application/pkix-cert"
PEM_CHAIN = "application/pem-certificate-chain"
PKIX_CRL = "application/pkix-crl"
PEM_FILE = "application/x-pem-file"
RAW_BODIES = {
    ("pki", "ca"): PKIX_CERT,
    ("pki", "ca/pem"): PEM_CHAIN,
    ("pki", "ca_chain"): PKIX_CERT,  # PEM text, labelled as Vault labels it
    ("pki", "cert/:serial/raw"): PKIX_CERT,
    ("pki", "cert/:serial/raw/pem"): PEM_CHAIN,
    ("pki", "issuer/:issuer_ref/pem"): PEM_CHAIN,
    ("pki", "issuer/:issuer_ref/der"): PKIX_CERT,
    ("pki", "crl"): PKIX_CRL,
    ("pki", "crl/delta"): PKIX_CRL,
    ("pki", "crl/pem"): PEM_FILE,
    ("pki", "crl/delta/pem"): PEM_FILE,
    ("pki", "issuer/:issuer_ref/crl/der"): PKIX_CRL,
    ("pki", "issuer/:issuer_ref/crl/delta/der"): PKIX_CRL,
    ("pki", "issuer/:issuer_ref/crl/pem"): PEM_FILE,
    ("pki", "issuer/:issuer_ref/crl/delta/pem"): PEM_FILE,
}
# The OCSP responder (src/secrets/pki/ocsp.rs): a DER request in (the POST
# body, or base64 in the GET path), a DER OCSPResponse out, refusals included.
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
OCSP = {("pki", "ocsp"), ("pki", "ocsp/*req"), ("pki", "unified-ocsp"), ("pki", "unified-ocsp/*req")}
OCSP_ANSWERS = {
    "200": "The signed OCSPResponse: good, revoked, or unknown (a certificate of no issuer "
           "of the mount, signed by the default issuer).",
    "400": "malformedRequest (`30 03 0A 01 01`): the request cannot be read.",
    "401": "unauthorized (`30 03 0A 01 06`): OCSP is disabled (`config/crl`), the path is "
           "unified OCSP, or no issuer may sign (`ocsp-signing` usage).",
    "500": "internalError (`30 03 0A 01 02`).",
}
# The served OpenAPI document itself is the body, not an envelope.
DOCUMENT_BODY = {("system", "internal/specs/openapi")}

# The endpoints src/http/sys_raw.rs answers outside the logical layer.
RAW_SYS = {
    "/sys/health": {
        "description": "Health of the server; status codes overridable by query.",
        "query": [
            ("standbyok", {"type": "boolean"}, "Answer 200 rather than 429 when standby."),
            ("perfstandbyok", {"type": "boolean"}, "Answer 200 when a performance standby."),
            ("activecode", {"type": "integer", "default": 200}, "Status when active."),
            ("standbycode", {"type": "integer", "default": 429}, "Status when standby."),
            ("drsecondarycode", {"type": "integer", "default": 472}, "Status when a DR secondary."),
            ("performancestandbycode", {"type": "integer", "default": 473},
             "Status when a performance standby."),
            ("sealedcode", {"type": "integer", "default": 503}, "Status when sealed."),
            ("uninitcode", {"type": "integer", "default": 501}, "Status when not initialized."),
            ("removedcode", {"type": "integer", "default": 530}, "Status when removed."),
            ("haunhealthycode", {"type": "integer", "default": 474}, "Status when HA unhealthy."),
        ],
        "responses": {
            "200": "initialized, unsealed and active",
            "400": "a status code parameter is not a number in 100..999",
            "429": "unsealed and standby",
            "472": "disaster recovery secondary",
            "473": "performance standby",
            "501": "not initialized",
            "503": "sealed",
        },
        "schema": "#/components/schemas/HealthResponse",
    },
    "/sys/seal-status": {
        "description": "Seal state, key shares and threshold, unseal progress.",
        "responses": {"200": "the seal status"},
        "schema": "#/components/schemas/SealStatusResponse",
    },
    "/sys/init": {
        "description": "Whether the store is initialized (GET); initialize it once (PUT/POST).",
        "responses": {
            "200": "initialization status, or the root token and keys",
            "400": "already initialized, or invalid parameters",
        },
        "body": {
            "secret_shares": ({"type": "integer"}, "Number of key shares to split the root key into."),
            "secret_threshold": ({"type": "integer"}, "Number of shares needed to unseal."),
            "stored_shares": ({"type": "integer"}, "Shares stored by the seal (auto-unseal)."),
            "pgp_keys": (STRINGS, "PGP keys to encrypt the key shares with."),
            "root_token_pgp_key": ({"type": "string"}, "PGP key to encrypt the root token with."),
            "recovery_shares": ({"type": "integer"}, "Recovery key shares (auto-unseal)."),
            "recovery_threshold": ({"type": "integer"}, "Recovery key threshold (auto-unseal)."),
            "recovery_pgp_keys": (STRINGS, "PGP keys to encrypt the recovery shares with."),
        },
    },
    "/sys/leader": {
        "description": "HA leader status (always this node: vaultlet is not clustered).",
        "responses": {"200": "the leader status"},
    },
    "/sys/unseal": {
        "description": "Submit one unseal key share, or reset the unseal progress.",
        "responses": {
            "200": "the seal status after this share",
            "400": "an invalid key share",
        },
        "body": {
            "key": ({"type": "string"}, "One unseal key share (hex or base64)."),
            "reset": ({"type": "boolean"}, "Discard the shares submitted so far."),
            "migrate": ({"type": "boolean"}, "Accepted for compatibility; ignored."),
        },
    },
}

TAGS = {"system": "system", "token": "auth"}

# Path parameter examples naming what tests/openapi/run creates, so that the
# fuzz run also reaches past "not found".
PARAM_EXAMPLES = {
    "role": "web", "role_name": "web", "issuer_ref": "default", "key_ref": "default",
    "exported": "internal",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dump_routes():
    """The route table, from tests/openapi.rs's ignored dump_routes test."""
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    env = dict(os.environ, OPENAPI_ROUTES_OUT=out)
    subprocess.run(
        ["cargo", "test", "--quiet", "--test", "openapi", "--", "--ignored", "--exact",
         "dump_routes"],
        cwd=ROOT, env=env, check=True, stdout=sys.stderr)
    with open(out) as f:
        return json.load(f)


def bao_reference(mounts):
    """OpenBao's own document with one mount of each type at its default path."""
    bao = shutil.which("bao")
    if not bao:
        sys.exit("--bao: no `bao` on PATH")
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [bao, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}",
         "-dev-no-store-token"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(method, path, body=None):
        req = urllib.request.Request(
            f"{addr}/v1/{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Vault-Token": "root"})
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    try:
        for _ in range(100):
            try:
                call("GET", "sys/health")
                break
            except OSError:
                time.sleep(0.1)
        for mount_type, prefix in mounts.items():
            if mount_type in ("system", "token", "cubbyhole", "identity"):
                continue
            if prefix.startswith("auth/"):
                call("POST", f"sys/auth/{prefix[5:].rstrip('/')}", {"type": mount_type})
            elif prefix != "secret/":
                call("POST", f"sys/mounts/{prefix.rstrip('/')}", {"type": mount_type})
        return call("GET", "sys/internal/specs/openapi")
    finally:
        proc.terminate()
        proc.wait()


def norm(path):
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/"))


class Reference:
    def __init__(self, doc):
        self.doc = doc or {"paths": {}, "components": {"schemas": {}}}
        self.paths = {norm(p): item for p, item in self.doc.get("paths", {}).items()}

    def resolve(self, v):
        ref = v.get("$ref") if isinstance(v, dict) else None
        if not ref:
            return v
        node = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part, {})
        return node

    def item(self, path):
        return self.paths.get(norm(path))

    def field(self, path, name):
        item = self.item(path)
        if not item:
            return None
        for key in ("post", "get", "patch", "delete"):
            op = item.get(key)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            props = self.resolve(body.get("schema", {})).get("properties", {})
            if name in props:
                return props[name]
            for p in op.get("parameters", []) + item.get("parameters", []):
                if p.get("name") == name:
                    schema = dict(p.get("schema", {}))
                    if p.get("description"):
                        schema["description"] = p["description"]
                    return schema
        return None

    def path_param(self, path, name):
        item = self.item(path)
        if not item:
            return None
        for p in item.get("parameters", []):
            if p.get("in") == "path" and p.get("name") == name:
                return p.get("description")
        # Different parameter names: the same position.
        ours = [s for s in path.split("/")]
        theirs = [p for p in self.doc["paths"] if norm(p) == norm(path)]
        if theirs:
            for a, b in zip(ours, theirs[0].split("/")):
                if a == "{" + name + "}" and b.startswith("{"):
                    for p in item.get("parameters", []):
                        if p.get("name") == b[1:-1]:
                            return p.get("description")
        return None


def convert(schema):
    """An OpenBao property schema → ours (OpenAPI 3.1, Vault's weak typing)."""
    schema = dict(schema or {})
    out = {}
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "integer" and fmt == "seconds":
        out = {"type": ["integer", "string"], "x-vaultlet-format": "duration"}
    elif kind == "integer":
        out = {"type": "integer"}
    elif kind == "number":
        out = {"type": "number"}
    elif kind == "boolean":
        out = {"type": "boolean"}
    elif kind == "array":
        out = {"type": "array", "items": convert(schema.get("items", {"type": "string"}))}
    elif kind == "object":
        out = {"type": "object"}
    else:
        out = {"type": "string"}
        if fmt == "date-time":
            out["format"] = "date-time"
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if "default" in schema and schema["default"] is not None:
        default = schema["default"]
        if out.get("type") == "array" and isinstance(default, str):
            default = [x for x in default.split(",") if x] if default else []
        if out.get("x-vaultlet-format") == "duration" and isinstance(default, str):
            pass
        out["default"] = default
    if schema.get("description"):
        out["description"] = schema["description"]
    if schema.get("deprecated"):
        out["deprecated"] = True
    return out


def heuristic(name):
    if name in KNOWN:
        s = json.loads(json.dumps(KNOWN[name]))
        s.pop("description", None)
        return s
    for pattern, schema in FIELD_RULES:
        if re.search(pattern, name):
            s = json.loads(json.dumps(schema))
            s.pop("description", None)
            return s
    return {"type": "string"}


class Previous:
    """The committed document: its schemas and prose survive regeneration."""

    def __init__(self, doc):
        self.doc = doc or {}
        self.paths = self.doc.get("paths", {})

    def item(self, path):
        return self.paths.get(path)

    def field(self, path, name):
        item = self.item(path) or {}
        for key in ("post", "get", "patch", "delete", "put"):
            op = item.get(key) or {}
            props = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
                     .get("schema", {}).get("properties", {}))
            if name in props:
                return props[name]
            for p in op.get("parameters", []):
                if p.get("name") == name and p.get("in") == "query":
                    s = dict(p.get("schema", {}))
                    if p.get("description"):
                        s["description"] = p["description"]
                    return s
        return None

    def path_param(self, path, name):
        for p in (self.item(path) or {}).get("parameters", []):
            if p.get("in") == "path" and p.get("name") == name:
                return p.get("description")
        return None

    def prose(self, path, key, method=None):
        item = self.item(path) or {}
        if method:
            item = item.get(method) or {}
        return item.get(key)


def operation_id(mount_type, method, pattern, list_op=False):
    slug = re.sub(r"[^A-Za-z0-9]+", "-", pattern.replace(":", "").replace("*", "")).strip("-")
    verb = {"get": "list" if list_op else "read", "post": "write", "delete": "delete",
            "patch": "patch", "put": "write", "head": "head"}[method]
    return f"{mount_type}-{verb}-{slug or 'root'}"


def tag_for(route, mounts):
    t = route["mount_type"]
    if t in TAGS:
        return TAGS[t]
    return "auth" if mounts.get(t, "").startswith("auth/") else "secrets"


def field_schema(path, name, previous, reference):
    prev = previous.field(path, name)
    if prev is not None:
        return prev
    ref = reference.field(path, name)
    if ref is not None:
        return convert(ref)
    return heuristic(name)


def error_responses(route, method):
    codes = dict(ERRORS)
    if route["unauthenticated"]:
        codes.pop("403")
    return {code: {"$ref": ref} for code, ref in codes.items()}


def ocsp_responses(route, method):
    """OCSP answers, then the errors the logical layer itself may answer."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    responses = {code: {"description": desc, "content": {OCSP_RESPONSE: binary}}
                 for code, desc in OCSP_ANSWERS.items()}
    for code, ref in error_responses(route, method).items():
        responses.setdefault(code, ref)
    return dict(sorted(responses.items()))


def logical_item(path, route, mounts, previous, reference):
    ref_item = reference.item(path) or {}
    item = {"x-vaultlet-mount-type": route["mount_type"]}
    desc = previous.prose(path, "description") or ref_item.get("description")
    if desc:
        item["description"] = desc
    if route["unauthenticated"]:
        item["x-vault-unauthenticated"] = True
    if route["sudo"]:
        item["x-vault-sudo"] = True
    params = []
    for name in re.findall(r"\{([^}]+)\}", path):
        d = (previous.path_param(path, name) or reference.path_param(path, name)
             or f"`{name}` ({'the rest of the path' if ('*' + name) in route['pattern'] else 'one path segment'})")
        param = {"name": name, "in": "path", "required": True, "description": d,
                 "schema": {"type": "string"}}
        if name in PARAM_EXAMPLES:
            param["example"] = PARAM_EXAMPLES[name]
        params.append(param)
    if params:
        item["parameters"] = params
    tag = tag_for(route, mounts)
    key = (route["mount_type"], route["pattern"])
    fields = route["fields"]
    for method in ("get", "post", "patch", "delete"):
        if method not in route["methods"]:
            continue
        list_only = method == "get" and route["list"] and not route["read"]
        op = {"operationId": operation_id(route["mount_type"], method, route["pattern"], list_only),
              "tags": [tag]}
        if route["unauthenticated"]:
            op["security"] = [{}, {"VaultToken": []}]
        summary = previous.prose(path, "summary", method) or (ref_item.get(method) or {}).get("summary")
        if summary:
            op["summary"] = summary
        responses = {}
        if method == "get":
            qp = []
            if route["list"]:
                qp.append({"name": "list", "in": "query", "required": list_only,
                           "description": "Must be `true`: LIST (also sent as the `LIST` verb)."
                           if list_only else "`true` lists instead of reading.",
                           "schema": {"type": "string", "enum": ["true"]} if list_only
                           else {"type": "string", "enum": ["true", "false"]}})
            if "post" not in route["methods"]:
                for f in fields:
                    s = dict(field_schema(path, f, previous, reference))
                    d = s.pop("description", None)
                    p = {"name": f, "in": "query", "schema": s}
                    if d:
                        p["description"] = d
                    qp.append(p)
            if qp:
                op["parameters"] = qp
            if key in DOCUMENT_BODY:
                responses["200"] = {"description": "the OpenAPI document (this document's form)",
                                    "content": {"application/json": {"schema": {"type": "object"}}}}
            elif key in RAW_BODIES:
                responses["200"] = {"description": "the raw body",
                                    "content": {RAW_BODIES[key]: {"schema": {"type": "string"}}}}
                responses["204"] = {"description": "nothing to return (no such issuer or CRL yet)"}
            elif list_only:
                responses["200"] = {"$ref": "#/components/responses/List"}
            else:
                responses["200"] = {"$ref": "#/components/responses/Data"}
        elif key in OCSP:
            op["requestBody"] = {"required": True, "content": {OCSP_REQUEST: {"schema": {
                "type": "string", "format": "binary",
                "description": "The DER OCSPRequest (under 2048 bytes)."}}}}
        else:
            if method in ("post", "patch") and fields:
                props = {f: field_schema(path, f, previous, reference) for f in fields}
                media = "application/merge-patch+json" if method == "patch" else "application/json"
                op["requestBody"] = {"required": False, "content": {media: {"schema": {
                    "type": "object", "properties": props}}}}
            responses["200"] = {"$ref": "#/components/responses/Data"}
            responses["204"] = {"$ref": "#/components/responses/NoContent"}
        responses.update(error_responses(route, method))
        op["responses"] = ocsp_responses(route, method) if key in OCSP else responses
        item[method] = op
    return item


def raw_item(path, route, previous):
    info = RAW_SYS[path]
    item = {"x-vaultlet-mount-type": "system", "x-vault-unauthenticated": True,
            "description": previous.prose(path, "description") or info["description"]}
    for method in ("get", "head", "put", "post"):
        if method not in route["methods"]:
            continue
        op = {"operationId": f"system-{method}-{path[5:]}", "tags": ["system"],
              "security": [{}]}
        if method in ("get", "head") and info.get("query"):
            op["parameters"] = [{"name": n, "in": "query", "description": d, "schema": s}
                                for n, s, d in info["query"]]
        if method in ("put", "post") and info.get("body"):
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {n: dict(s, description=d) for n, (s, d) in info["body"].items()}}}}}
        responses = {}
        for code, desc in info["responses"].items():
            if method in ("get", "head") and code == "400" and path != "/sys/health":
                continue
            if method in ("put", "post") and path == "/sys/init" and code == "200":
                desc = "the root token and key shares"
            r = {"description": desc}
            if code.startswith("2") or code in ("429", "472", "473", "501", "503"):
                if method != "head":
                    r["content"] = {"application/json": {"schema": {
                        "$ref": info.get("schema", "#/components/schemas/Object")}}}
            elif code == "400":
                r = {"$ref": "#/components/responses/BadRequest"}
            responses[code] = r
        if method in ("put", "post") and "405" not in responses:
            responses["405"] = {"$ref": "#/components/responses/UnsupportedOperation"}
        op["responses"] = responses
        item[method] = op
    return item


def components():
    def error(description):
        return {"description": description, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ErrorResponse"}}}}

    return {
        "schemas": {
            "Object": {"type": "object"},
            "ErrorResponse": {
                "type": "object", "required": ["errors"],
                "properties": {"errors": {"type": "array", "items": {"type": "string"}}}},
            "Envelope": {
                "type": "object",
                "description": "Vault's response envelope.",
                "properties": {
                    "request_id": {"type": "string"},
                    "lease_id": {"type": "string"},
                    "renewable": {"type": "boolean"},
                    "lease_duration": {"type": "integer"},
                    "data": {"type": ["object", "null"]},
                    "wrap_info": {"type": ["object", "null"]},
                    "warnings": {"type": ["array", "null"], "items": {"type": "string"}},
                    "auth": {"type": ["object", "null"], "properties": {
                        "client_token": {"type": "string"},
                        "accessor": {"type": "string"},
                        "policies": {"type": ["array", "null"], "items": {"type": "string"}},
                        "token_policies": {"type": ["array", "null"], "items": {"type": "string"}},
                        "metadata": {"type": ["object", "null"]},
                        "lease_duration": {"type": "integer"},
                        "renewable": {"type": "boolean"},
                        "entity_id": {"type": "string"},
                        "token_type": {"type": "string"},
                        "orphan": {"type": "boolean"},
                    }},
                    "mount_type": {"type": "string"},
                }},
            "ListData": {
                "type": "object",
                "properties": {"keys": {"type": "array", "items": {"type": "string"}},
                               "key_info": {"type": "object"}}},
            "HealthResponse": {
                "type": "object",
                "properties": {
                    "initialized": {"type": "boolean"}, "sealed": {"type": "boolean"},
                    "standby": {"type": "boolean"}, "performance_standby": {"type": "boolean"},
                    "replication_performance_mode": {"type": "string"},
                    "replication_dr_mode": {"type": "string"},
                    "server_time_utc": {"type": "integer"}, "version": {"type": "string"},
                    "enterprise": {"type": "boolean"}, "cluster_name": {"type": "string"},
                    "cluster_id": {"type": "string"}, "echo_duration_ms": {"type": "integer"},
                    "clock_skew_ms": {"type": "integer"}}},
            "SealStatusResponse": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"}, "initialized": {"type": "boolean"},
                    "sealed": {"type": "boolean"}, "t": {"type": "integer"},
                    "n": {"type": "integer"}, "progress": {"type": "integer"},
                    "nonce": {"type": "string"}, "version": {"type": "string"},
                    "build_date": {"type": "string"}, "migration": {"type": "boolean"},
                    "recovery_seal": {"type": "boolean"}, "storage_type": {"type": "string"},
                    "cluster_name": {"type": "string"}, "cluster_id": {"type": "string"}}},
        },
        "responses": {
            "Data": {"description": "Success, with data (Vault's envelope).",
                     "content": {"application/json": {"schema": {
                         "$ref": "#/components/schemas/Envelope"}}}},
            "List": {"description": "Success: `data.keys` lists the entries.",
                     "content": {"application/json": {"schema": {"allOf": [
                         {"$ref": "#/components/schemas/Envelope"},
                         {"type": "object", "properties": {"data": {
                             "$ref": "#/components/schemas/ListData"}}}]}}}},
            "NoContent": {"description": "Success, nothing to return."},
            "BadRequest": error("Invalid request: missing or malformed parameters, or the "
                                "operation failed validation."),
            "PermissionDenied": error("Missing or invalid token, or the token's policies deny "
                                      "the operation."),
            "NotFound": error("No such entry (reads), or no route for the path."),
            "UnsupportedOperation": error("The path does not support this operation."),
            "InternalError": error("Internal error."),
            "Sealed": error("The server is sealed."),
        },
        "securitySchemes": {
            "VaultToken": {"type": "apiKey", "in": "header", "name": "X-Vault-Token"},
        },
    }


def build(routes_doc, previous, reference):
    mounts = routes_doc["mounts"]
    paths = {}
    for path, route in sorted(routes_doc["routes"].items()):
        if route["raw"]:
            paths[path] = raw_item(path, route, previous)
        else:
            paths[path] = logical_item(path, route, mounts, previous, reference)
    prev = previous.doc
    info = prev.get("info") or {
        "title": "vaultlet API",
        "description": "The Vault-compatible HTTP API that vaultlet serves. All routes are "
                       "prefixed with `/v1/`. Paths are shown at each mount type's default "
                       "mount path (`x-vaultlet-mounts`); "
                       "`GET /v1/sys/internal/specs/openapi` serves this document for the "
                       "mounts that exist, at their real paths. Writes accept PUT as well as "
                       "POST; LIST is also accepted as the `LIST` verb; every parameter is "
                       "weakly typed as in Vault (strings are accepted for numbers, booleans "
                       "and durations, comma-separated strings for lists).",
        "version": "1.19.0",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    }
    return {
        "openapi": "3.1.0",
        "info": info,
        "servers": prev.get("servers") or [{"url": "/v1"}],
        "security": [{"VaultToken": []}],
        "x-vaultlet-mounts": dict(sorted(mounts.items())),
        "tags": [{"name": "system"}, {"name": "auth"}, {"name": "secrets"}],
        "paths": paths,
        "components": components(),
    }


class Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


Dumper.add_representer(str, _str)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--routes", help="route table JSON (default: run cargo test dump_routes)")
    ap.add_argument("--reference", help="a saved OpenBao /v1/sys/internal/specs/openapi")
    ap.add_argument("--bao", action="store_true", help="fetch the reference from a dev OpenBao")
    ap.add_argument("--fresh", action="store_true", help="ignore the committed document")
    ap.add_argument("-o", "--output", default=SPEC)
    args = ap.parse_args()

    if args.routes:
        with open(args.routes) as f:
            routes_doc = json.load(f)
    else:
        routes_doc = dump_routes()
    previous = {}
    if not args.fresh and os.path.exists(SPEC):
        with open(SPEC) as f:
            previous = yaml.safe_load(f) or {}
    reference = None
    if args.reference:
        with open(args.reference) as f:
            reference = json.load(f)
    elif args.bao:
        reference = bao_reference(routes_doc["mounts"])
    doc = build(routes_doc, Previous(previous), Reference(reference))
    header = ("# vaultlet's HTTP API (OpenAPI 3.1). Served, for the mounts that exist, at\n"
              "# GET /v1/sys/internal/specs/openapi. Drafted by api-spec/generate.py from\n"
              "# the router's route table, then reviewed; tests/openapi.rs checks it against\n"
              "# the router.\n")
    text = yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)
    with open(args.output, "w") as f:
        f.write(header + text)
    print(f"{args.output}: {len(doc['paths'])} paths", file=sys.stderr)


if __name__ == "__main__":
    main()
