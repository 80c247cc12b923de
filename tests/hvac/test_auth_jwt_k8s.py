"""hvac's auth.jwt and auth.kubernetes against vaultlet.

JWTs are signed in the test with a key made by the `cryptography` package;
the Kubernetes cases use vaultlet's local-verification extension (pem_keys
and no kubernetes_host), so no API server is needed.
"""
import base64
import json
import time

import pytest
from hvac import exceptions

crypto = pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _cert_pem(key):
    """The key in a self-signed certificate: hvac wants pem_keys as certificates."""
    import datetime

    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "service-account-signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _jwt(key, claims, alg="RS256"):
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64(signature)}"


def test_jwt_login_with_hvac(client, unique, key):
    path = f"jwt-{unique}"
    client.sys.enable_auth_method("jwt", path=path)
    client.auth.jwt.configure(jwt_validation_pubkeys=[_pem(key)], bound_issuer="https://issuer", path=path)
    config = client.auth.jwt.read_config(path=path)["data"]
    assert config["bound_issuer"] == "https://issuer"
    client.auth.jwt.create_role(
        name="ci",
        role_type="jwt",
        user_claim="sub",
        allowed_redirect_uris=[],
        bound_audiences=["vaultlet"],
        claim_mappings={"repo": "repository"},
        token_policies=["ci"],
        token_ttl="30m",
        path=path,
    )
    role = client.auth.jwt.read_role(name="ci", path=path)["data"]
    assert role["role_type"] == "jwt"
    assert role["bound_audiences"] == ["vaultlet"]
    assert "ci" in client.auth.jwt.list_roles(path=path)["data"]["keys"]

    now = int(time.time())
    claims = {"iss": "https://issuer", "sub": "pipeline-7", "aud": "vaultlet",
              "iat": now, "exp": now + 120, "repo": "org/app"}
    resp = client.auth.jwt.jwt_login(role="ci", jwt=_jwt(key, claims), use_token=False, path=path)
    auth = resp["auth"]
    assert auth["policies"] == ["ci", "default"]
    assert auth["lease_duration"] == 1800
    assert auth["metadata"] == {"role": "ci", "repository": "org/app"}

    for bad_claims, message in [
        ({**claims, "exp": now - 3600}, "token is expired"),
        ({**claims, "aud": "other"}, "invalid audience (aud) claim"),
        ({**claims, "iss": "https://evil"}, "invalid issuer (iss) claim"),
    ]:
        with pytest.raises(exceptions.InvalidRequest) as err:
            client.auth.jwt.jwt_login(role="ci", jwt=_jwt(key, bad_claims), use_token=False, path=path)
        assert message in str(err.value)
    unsigned = _jwt(key, claims).rsplit(".", 1)[0] + "."
    with pytest.raises(exceptions.InvalidRequest):
        client.auth.jwt.jwt_login(role="ci", jwt=unsigned, use_token=False, path=path)
    with pytest.raises(exceptions.InvalidRequest) as err:
        client.auth.jwt.jwt_login(role="nope", jwt=_jwt(key, claims), use_token=False, path=path)
    assert 'role "nope" could not be found' in str(err.value)


def test_kubernetes_login_with_hvac(client, unique, key):
    mount = f"k8s-{unique}"
    client.sys.enable_auth_method("kubernetes", path=mount)
    # vaultlet extension: pem_keys without a host verify locally, no TokenReview.
    client.auth.kubernetes.configure(kubernetes_host="", pem_keys=[_cert_pem(key)], mount_point=mount)
    config = client.auth.kubernetes.read_config(mount_point=mount)
    assert len(config["pem_keys"]) == 1
    assert config["token_reviewer_jwt_set"] is False
    client.auth.kubernetes.create_role(
        name="cert-manager",
        bound_service_account_names=["cert-manager"],
        bound_service_account_namespaces=["cert-*"],
        policies=["pki"],
        ttl="1h",
        mount_point=mount,
    )
    role = client.auth.kubernetes.read_role(name="cert-manager", mount_point=mount)
    assert role["token_policies"] == ["pki"]
    assert "cert-manager" in client.auth.kubernetes.list_roles(mount_point=mount)["keys"]

    now = int(time.time())
    claims = {"aud": ["vault://cert-manager/vault-issuer"], "iat": now, "exp": now + 600,
              "iss": "https://kubernetes.default.svc.cluster.local",
              "sub": "system:serviceaccount:cert-manager:cert-manager",
              "kubernetes.io": {"namespace": "cert-manager",
                                "serviceaccount": {"name": "cert-manager", "uid": "u-1"}}}
    resp = client.auth.kubernetes.login(role="cert-manager", jwt=_jwt(key, claims),
                                        use_token=False, mount_point=mount)
    auth = resp["auth"]
    assert auth["policies"] == ["default", "pki"]
    assert auth["lease_duration"] == 3600
    assert auth["metadata"]["service_account_namespace"] == "cert-manager"
    assert auth["metadata"]["role"] == "cert-manager"

    other = {**claims, "kubernetes.io": {"namespace": "kube-system",
                                         "serviceaccount": {"name": "cert-manager", "uid": "u-1"}}}
    with pytest.raises(exceptions.Forbidden) as err:
        client.auth.kubernetes.login(role="cert-manager", jwt=_jwt(key, other),
                                     use_token=False, mount_point=mount)
    assert "namespace not authorized" in str(err.value)
    with pytest.raises(exceptions.Forbidden):
        client.auth.kubernetes.login(role="cert-manager", jwt=_jwt(key, {**claims, "exp": now - 3600}),
                                     use_token=False, mount_point=mount)
    with pytest.raises(exceptions.InvalidRequest) as err:
        client.auth.kubernetes.login(role="nope", jwt=_jwt(key, claims), use_token=False, mount_point=mount)
    assert 'invalid role name "nope"' in str(err.value)
