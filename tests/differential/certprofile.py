"""Certificate, CSR, CRL and key *profiles*: what must agree between two
servers that sign the same request with different (random) keys and serials.

Certificate profile: version, signature algorithm, public key algorithm and
size/curve, subject and issuer (RFC 4514 strings, except names that embed
random values), serial length class, validity length (NotAfter-NotBefore,
±2 s) and NotAfter (±30 s: the requests reach the two servers moments apart),
and every extension: OID and criticality, and its decoded value —
basicConstraints (CA, pathlen), keyUsage flags, extendedKeyUsage OIDs, SANs,
AIA and CRL distribution point URLs, name constraints, certificate policies;
for subject/authority key identifiers whether they are present, their length
and whether AKI = SKI (self-issued) — not their bytes.
"""
from __future__ import annotations

import base64
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID

NL = b"\n"
PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)\r?\n?-----END \1-----", re.S)


def looks_like_pki(s: str) -> bool:
    return "-----BEGIN " in s


def _blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode(), base64.b64decode(b"".join(m.group(2).split()))) for m in PEM_RE.finditer(data)]


def _key_profile(k) -> str:
    if isinstance(k, rsa.RSAPublicKey):
        return f"rsa-{k.key_size}"
    if isinstance(k, ec.EllipticCurvePublicKey):
        return f"ec-{k.curve.name}"
    if isinstance(k, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(k).__name__


def _gn(names) -> list[str]:
    out = []
    for n in names:
        if isinstance(n, x509.OtherName):
            out.append(f"othername:{n.type_id.dotted_string}:{n.value.hex()}")
        else:
            out.append(f"{type(n).__name__}:{n.value if not isinstance(n.value, x509.Name) else n.value.rfc4514_string()}")
    return sorted(out)


def _ext_value(ext: x509.Extension) -> Any:
    v = ext.value
    oid = ext.oid
    if oid == ExtensionOID.BASIC_CONSTRAINTS:
        return {"ca": v.ca, "path_length": v.path_length}
    if oid == ExtensionOID.KEY_USAGE:
        flags = {}
        for f in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                  "key_agreement", "key_cert_sign", "crl_sign"):
            flags[f] = getattr(v, f)
        if v.key_agreement:
            flags["encipher_only"], flags["decipher_only"] = v.encipher_only, v.decipher_only
        return flags
    if oid == ExtensionOID.EXTENDED_KEY_USAGE:
        return sorted(o.dotted_string for o in v)
    if oid in (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.ISSUER_ALTERNATIVE_NAME):
        return _gn(v)
    if oid == ExtensionOID.AUTHORITY_INFORMATION_ACCESS:
        return sorted(f"{d.access_method.dotted_string}={d.access_location.value}" for d in v)
    if oid in (ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.FRESHEST_CRL):
        return sorted(str(_gn(dp.full_name or [])) for dp in v)
    if oid == ExtensionOID.NAME_CONSTRAINTS:
        return {"permitted": _gn(v.permitted_subtrees or []), "excluded": _gn(v.excluded_subtrees or [])}
    if oid == ExtensionOID.CERTIFICATE_POLICIES:
        def qualifier(q):
            return q if isinstance(q, str) else f"notice:{q.explicit_text}"
        return sorted([p.policy_identifier.dotted_string, [qualifier(q) for q in p.policy_qualifiers or []]]
                      for p in v)
    if oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
        return {"len": len(v.digest)}
    if oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
        return {"key_id_len": len(v.key_identifier or b""), "issuer": v.authority_cert_issuer is not None,
                "serial": v.authority_cert_serial_number is not None}
    if oid == ExtensionOID.CRL_NUMBER:
        return "crl-number"
    if oid == ExtensionOID.DELTA_CRL_INDICATOR:
        return "delta"
    if hasattr(v, "value"):
        return v.value.hex() if isinstance(v.value, bytes) else str(v.value)
    return type(v).__name__


def cert_profile(der: bytes) -> dict:
    c = x509.load_der_x509_certificate(der)
    exts = {}
    for e in c.extensions:
        exts[e.oid.dotted_string] = {"critical": e.critical, "value": _ext_value(e)}
    ski = aki = None
    try:
        ski = c.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
        aki = c.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
    except x509.ExtensionNotFound:
        pass
    nb, na = c.not_valid_before_utc, c.not_valid_after_utc
    return {
        "version": c.version.name,
        "signature_algorithm": c.signature_algorithm_oid._name,
        "public_key": _key_profile(c.public_key()),
        "subject": c.subject.rfc4514_string(),
        "issuer": c.issuer.rfc4514_string(),
        "self_issued": c.subject == c.issuer,
        "aki_equals_ski": (ski is not None and aki is not None and ski == aki),
        # Random serials below 2^159: 19 or 20 bytes, fewer once in 2^15.
        "serial_bytes": "17-20" if 17 <= (c.serial_number.bit_length() + 7) // 8 <= 20 else (c.serial_number.bit_length() + 7) // 8,
        "validity_seconds": int((na - nb).total_seconds()),
        "_not_after": na.timestamp(),
        "extensions": exts,
    }


def csr_profile(der: bytes) -> dict:
    r = x509.load_der_x509_csr(der)
    exts = {}
    for e in r.extensions:
        exts[e.oid.dotted_string] = {"critical": e.critical, "value": _ext_value(e)}
    return {"subject": r.subject.rfc4514_string(), "public_key": _key_profile(r.public_key()),
            "signature_algorithm": r.signature_algorithm_oid._name, "extensions": exts,
            "signature_valid": r.is_signature_valid}


def crl_profile(der: bytes) -> dict:
    c = x509.load_der_x509_crl(der)
    exts = {}
    for e in c.extensions:
        exts[e.oid.dotted_string] = {"critical": e.critical, "value": _ext_value(e)}
    nu = c.next_update_utc
    return {"issuer": c.issuer.rfc4514_string(), "signature_algorithm": c.signature_algorithm_oid._name,
            "revoked": len(list(c)),
            "next_update_minus_last": int((nu - c.last_update_utc).total_seconds()) if nu else None,
            "extensions": exts}


def key_profile(kind: str, der: bytes) -> dict:
    from cryptography.hazmat.primitives import serialization
    if kind == "RSA PRIVATE KEY":
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey  # noqa
        k = serialization.load_der_private_key(der, None)
    elif kind == "EC PRIVATE KEY":
        k = serialization.load_der_private_key(der, None)
    else:
        k = serialization.load_der_private_key(der, None)
    return {"pem_type": kind, "key": _key_profile(k.public_key())}


def profiles_of(data: bytes) -> list[dict] | None:
    """Profiles of every PEM block in data; None when data holds no PEM."""
    blocks = _blocks(data)
    if not blocks:
        return None
    out = []
    for kind, der in blocks:
        try:
            if kind == "CERTIFICATE":
                out.append({"pem": kind, **cert_profile(der)})
            elif kind in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
                out.append({"pem": kind, **csr_profile(der)})
            elif kind == "X509 CRL":
                out.append({"pem": kind, **crl_profile(der)})
            elif "PRIVATE KEY" in kind:
                out.append({"pem": kind, **key_profile(kind, der)})
            else:
                out.append({"pem": kind, "len": len(der)})
        except Exception as e:  # unparsable: that is a profile too
            out.append({"pem": kind, "error": type(e).__name__})
    return out


def der_profile(data: bytes) -> dict | None:
    for name, fn in (("certificate", cert_profile), ("crl", crl_profile)):
        try:
            return {"der": name, **fn(data)}
        except Exception:
            continue
    return None


def _diff_profiles(pa: Any, pb: Any, path: str, out: list[str]):
    if isinstance(pa, dict) and isinstance(pb, dict):
        for k in sorted(set(pa) | set(pb)):
            p = f"{path}.{k}" if path else k
            if k not in pa or k not in pb:
                out.append(f"{p} present only in {'vaultlet' if k in pa else 'reference'}: {pa.get(k, pb.get(k))!r}")
            elif k == "_not_after":
                if abs(pa[k] - pb[k]) > 30:
                    out.append(f"{p}: NotAfter differs by {pa[k] - pb[k]:+.0f} s")
            elif k == "validity_seconds":
                # A validity cut to the CA's NotAfter depends on when each
                # server got the request: seconds apart on a loaded machine.
                # Different TTLs or back-dating differ by 30 s and more.
                if abs(pa[k] - pb[k]) > 5:
                    out.append(f"{p}: vaultlet {pa[k]} s vs reference {pb[k]} s")
            else:
                _diff_profiles(pa[k], pb[k], p, out)
    elif isinstance(pa, list) and isinstance(pb, list) and all(isinstance(x, dict) for x in pa + pb):
        if len(pa) != len(pb):
            out.append(f"{path}: {len(pa)} vs {len(pb)} PEM blocks")
            return
        for i, (x, y) in enumerate(zip(pa, pb)):
            _diff_profiles(x, y, f"{path}[{i}]", out)
    elif pa != pb:
        out.append(f"{path}: vaultlet {pa!r} vs reference {pb!r}")


def compare_pki_text(a: str, b: str) -> list[str]:
    pa, pb = profiles_of(a.encode()), profiles_of(b.encode())
    if pa is None or pb is None:
        return [f"PEM on one side only: vaultlet {a[:60]!r} reference {b[:60]!r}"]
    out: list[str] = []
    _diff_profiles(pa, pb, "", out)
    # formatting: PEM JSON fields carry no trailing newline in Vault
    if a.endswith("\n") != b.endswith("\n"):
        out.append(f"trailing newline: vaultlet {a.endswith(chr(10))} reference {b.endswith(chr(10))}")
    return out


def compare_raw(a: bytes, b: bytes) -> list[str]:
    """Raw bodies: PEM and DER by profile, anything else exactly."""
    pa, pb = profiles_of(a), profiles_of(b)
    if pa is not None or pb is not None:
        if pa is None or pb is None:
            return ["body"]
        out: list[str] = []
        _diff_profiles(pa, pb, "", out)
        if a.endswith(b"\n") != b.endswith(b"\n"):
            out.append(f"trailing newline: vaultlet {a.endswith(NL)} reference {b.endswith(NL)}")
        return out
    da, db = der_profile(a), der_profile(b)
    if da is not None or db is not None:
        if da is None or db is None:
            return ["body"]
        out = []
        _diff_profiles(da, db, "", out)
        return out
    return [] if a == b else ["body"]


B64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def looks_like_b64_der(s: str) -> bool:
    """format=der answers carry base64 DER (certificates start with MII)."""
    return len(s) > 64 and s.startswith("M") and B64_RE.match(s) is not None


def _der_any(der: bytes) -> dict:
    from cryptography.hazmat.primitives import serialization
    for name, fn in (("certificate", cert_profile), ("crl", crl_profile), ("csr", csr_profile)):
        try:
            return {"der": name, **fn(der)}
        except Exception:
            pass
    try:
        k = serialization.load_der_private_key(der, None)
        return {"der": "private key", "key": _key_profile(k.public_key())}
    except Exception:
        return {"der": "unknown", "len_class": len(der) // 64}


def compare_b64_der(a: str, b: str) -> list[str]:
    pa, pb = _der_any(base64.b64decode(a)), _der_any(base64.b64decode(b))
    out: list[str] = []
    _diff_profiles(pa, pb, "", out)
    return out
