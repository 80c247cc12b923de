"""sops, the real client, against the transit engine: a YAML file encrypted
with `--hc-vault-transit` decrypts again through vaultlet, and a file
encrypted against the reference decrypts through vaultlet once the key's
backup is restored there (the migration a sops user makes)."""
import os
import subprocess
import uuid

import pytest
import yaml

SECRET = "db:\n  user: admin\n  password: s3cr3t\n"
PLAIN = {"db": {"user": "admin", "password": "s3cr3t"}}


@pytest.fixture(scope="module")
def sops_bin():
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "sops")
    return subprocess.run([tool], check=True, capture_output=True, text=True).stdout.strip()


def _api(srv, method, path, body=None):
    r = srv.session.request(method, f"{srv.addr}/v1/{path}", json=body, headers={"X-Vault-Token": srv.token},
                            timeout=60)
    assert r.status_code in (200, 204), (srv.name, method, path, r.status_code, r.text[:300])
    return r.json() if r.content.strip() else None


def _sops(sops_bin, srv, *args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "SOPS_"))}
    env.update(VAULT_TOKEN=srv.token, HOME=cwd)
    r = subprocess.run([sops_bin, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (srv.name, args, r.stderr[-2000:])
    return r.stdout


def _transit_key(srv, mount, exportable=False):
    _api(srv, "POST", f"sys/mounts/{mount}", {"type": "transit"})
    _api(srv, "POST", f"{mount}/keys/sops", {"exportable": exportable, "allow_plaintext_backup": exportable})
    return f"{srv.addr}/v1/{mount}/keys/sops"


@pytest.fixture
def mounts(servers):
    """Transit mounts a test makes, by server; removed afterwards, since
    the other tests compare the two servers' whole mount tables."""
    made = []
    yield made
    for srv, mount in made:
        _api(srv, "DELETE", f"sys/mounts/{mount}")


def test_sops_encrypts_and_decrypts_through_vaultlet(servers, mounts, sops_bin, tmp_path):
    vaultlet, _ = servers
    mount = "sops" + uuid.uuid4().hex[:8]
    mounts.append((vaultlet, mount))
    key_url = _transit_key(vaultlet, mount)
    (tmp_path / "secret.yaml").write_text(SECRET)
    encrypted = _sops(sops_bin, vaultlet, "encrypt", "--hc-vault-transit", key_url, "secret.yaml", cwd=tmp_path)
    doc = yaml.safe_load(encrypted)
    assert doc["db"]["password"].startswith("ENC["), doc
    assert doc["sops"]["hc_vault"][0]["enc"].startswith("vault:v1:"), doc["sops"]
    (tmp_path / "secret.enc.yaml").write_text(encrypted)
    assert yaml.safe_load(_sops(sops_bin, vaultlet, "decrypt", "secret.enc.yaml", cwd=tmp_path)) == PLAIN


def test_a_file_encrypted_against_the_reference_decrypts_after_key_restore(servers, mounts, sops_bin, tmp_path):
    vaultlet, reference = servers
    mount = "sops" + uuid.uuid4().hex[:8]
    mounts.append((reference, mount))
    key_url = _transit_key(reference, mount, exportable=True)
    (tmp_path / "secret.yaml").write_text(SECRET)
    encrypted = _sops(sops_bin, reference, "encrypt", "--hc-vault-transit", key_url, "secret.yaml", cwd=tmp_path)

    backup = _api(reference, "GET", f"{mount}/backup/sops")["data"]["backup"]
    mounts.append((vaultlet, mount))
    _api(vaultlet, "POST", f"sys/mounts/{mount}", {"type": "transit"})
    _api(vaultlet, "POST", f"{mount}/restore", {"backup": backup})

    # The file names the server it was encrypted against; moving it is
    # pointing that address at vaultlet (the data key and its MAC stay).
    doc = yaml.safe_load(encrypted)
    assert doc["sops"]["hc_vault"][0]["vault_address"] == reference.addr
    moved = encrypted.replace(f"vault_address: {reference.addr}", f"vault_address: {vaultlet.addr}")
    assert moved != encrypted
    (tmp_path / "moved.enc.yaml").write_text(moved)
    assert yaml.safe_load(_sops(sops_bin, vaultlet, "decrypt", "moved.enc.yaml", cwd=tmp_path)) == PLAIN
