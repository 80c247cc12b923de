"""Transit: keys (create, read, list, rotate, config, trim, delete), encrypt,
decrypt, rewrap and datakey (single, batch with per-item errors, derived),
sign/verify, hmac/verify, hash, random, export, backup/restore refusals — and
the key backup round trip: a key backed up from the reference restores into
vaultlet and decrypts the reference's ciphertexts and verifies its
signatures and HMACs, and the reverse."""
import base64
import uuid

from cli import cli_list, cli_read, cli_write, secrets_enable

HI = base64.b64encode(b"hello").decode()


def test_transit_keys_and_operations(pair):
    m = "tr" + uuid.uuid4().hex[:8]
    secrets_enable(pair, "transit", m)
    cli_list(pair, f"{m}/keys", expect=404)
    cli_write(pair, f"{m}/keys/k", expect=200)
    cli_read(pair, f"{m}/keys/k", expect=200)
    for t in ("aes128-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"):
        pair.call("POST", f"{m}/keys/{t}", {"type": t}, expect=200)
    pair.call("POST", f"{m}/keys/h", {"type": "hmac", "key_size": 32}, expect=200)
    pair.call("POST", f"{m}/keys/h2", {"type": "hmac"}, expect=(400, 500))
    pair.call("POST", f"{m}/keys/bad", {"type": "nope"}, expect=400)
    pair.call("POST", f"{m}/keys/bad", {"convergent_encryption": True}, expect=400)
    cli_list(pair, f"{m}/keys", expect=200)
    pair.call("GET", f"{m}/keys/nosuch", expect=404)
    pair.call("POST", f"{m}/keys/k/rotate", expect=200)
    pair.call("POST", f"{m}/keys/nosuch/rotate", expect=400)
    pair.call("POST", f"{m}/keys/k/config", {"min_decryption_version": 5}, expect=400)
    pair.call("POST", f"{m}/keys/nosuch/config", {"deletion_allowed": True}, expect=400)
    pair.call("DELETE", f"{m}/keys/k", expect=400)
    # Encrypt/decrypt/rewrap.
    ra, rb = pair.call("POST", f"{m}/encrypt/k", {"plaintext": HI, "key_version": 1}, expect=200)
    pair.set("ct1", lambda r: r.get("data", "ciphertext"), ra, rb)
    pair.call("POST", f"{m}/decrypt/k", {"ciphertext": "<<ct1>>"}, expect=200)
    pair.call("POST", f"{m}/rewrap/k", {"ciphertext": "<<ct1>>"}, expect=200)
    pair.call("POST", f"{m}/keys/k/config", {"min_decryption_version": 2}, expect=200)
    pair.call("POST", f"{m}/decrypt/k", {"ciphertext": "<<ct1>>"}, expect=400)
    pair.call("POST", f"{m}/keys/k/config", {"min_encryption_version": 1}, expect=400)
    pair.call("POST", f"{m}/keys/k/trim", {"min_available_version": 2}, expect=400)
    pair.call("POST", f"{m}/keys/k/config", {"min_encryption_version": 2}, expect=200)
    pair.call("POST", f"{m}/keys/k/trim", {"min_available_version": 2}, expect=200)
    for body in ({"ciphertext": "garbage"}, {"ciphertext": "vault:v2:AAAA"},
                 {"ciphertext": "vault:v9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="},
                 {"ciphertext": "vault:v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}, {}):
        pair.call("POST", f"{m}/decrypt/k", body, expect=400)
    pair.call("POST", f"{m}/encrypt/k", {"plaintext": "not base64!"}, expect=400)
    pair.call("POST", f"{m}/encrypt/k", {}, expect=400)
    pair.call("POST", f"{m}/encrypt/k", {"plaintext": HI, "key_version": 9}, expect=400)
    pair.call("POST", f"{m}/encrypt/ecdsa-p256", {"plaintext": HI}, expect=400)
    pair.call("POST", f"{m}/decrypt/nosuch", {"ciphertext": "vault:v1:AAAA"}, expect=400)
    ra, rb = pair.call("POST", f"{m}/encrypt/rsa-2048", {"plaintext": HI}, expect=200)
    pair.set("rsact", lambda r: r.get("data", "ciphertext"), ra, rb)
    pair.call("POST", f"{m}/decrypt/rsa-2048", {"ciphertext": "<<rsact>>"}, expect=200)
    pair.call("POST", f"{m}/encrypt/upserted", {"plaintext": HI, "associated_data": HI}, expect=200)
    pair.call("GET", f"{m}/keys/upserted", expect=200)
    pair.call("POST", f"{m}/encrypt/k", {"batch_input": [{"plaintext": HI, "reference": "a"}, {"plaintext": "!!"}]},
              expect=400)
    pair.call("POST", f"{m}/encrypt/k", {"batch_input": []}, expect=400)
    pair.call("POST", f"{m}/decrypt/k", {"batch_input": [{"ciphertext": "x"}, {"ciphertext": "vault:v2:AAAA"}]},
              expect=400)
    pair.call("POST", f"{m}/keys/d", {"derived": True}, expect=200)
    pair.call("POST", f"{m}/encrypt/d", {"plaintext": HI, "context": HI}, expect=200)
    pair.call("POST", f"{m}/datakey/wrapped/k", {}, expect=200)
    pair.call("POST", f"{m}/datakey/plaintext/k", {"bits": 100}, expect=400)
    pair.call("POST", f"{m}/datakey/bogus/k", {}, expect=400)
    # Sign/verify, hmac/verify.
    for t in ("ed25519", "ecdsa-p256", "rsa-2048"):
        ra, rb = pair.call("POST", f"{m}/sign/{t}", {"input": HI}, expect=200)
        pair.set("sig", lambda r: r.get("data", "signature"), ra, rb)
        pair.call("POST", f"{m}/verify/{t}", {"input": HI, "signature": "<<sig>>"}, expect=200)
        pair.call("POST", f"{m}/verify/{t}", {"input": "aGk=", "signature": "<<sig>>"}, expect=200)
    # RSA-PSS salt lengths: each side verifies its own signature with the
    # named length (and auto-detection finds the maximum and the hash length).
    for salt in ("auto", "hash", "20", "0", "-1"):
        ra, rb = pair.call("POST", f"{m}/sign/rsa-2048", {"input": HI, "salt_length": salt}, expect=200)
        pair.set("sig", lambda r: r.get("data", "signature"), ra, rb)
        pair.call("POST", f"{m}/verify/rsa-2048", {"input": HI, "signature": "<<sig>>", "salt_length": salt},
                  expect=200)
        if salt in ("auto", "hash", "0", "-1"):
            pair.call("POST", f"{m}/verify/rsa-2048", {"input": HI, "signature": "<<sig>>"}, expect=200)
    pair.call("POST", f"{m}/sign/rsa-2048", {"input": HI, "salt_length": "abc"}, expect=400)
    pair.call("POST", f"{m}/sign/rsa-2048", {"input": HI, "salt_length": "-2"}, expect=400)
    pair.call("POST", f"{m}/verify/rsa-2048", {"input": HI, "signature": "vault:v1:AAAA", "salt_length": "5000"},
              expect=400)
    pair.call("POST", f"{m}/sign/ecdsa-p256", {"input": HI, "hash_algorithm": "md5"}, expect=400)
    pair.call("POST", f"{m}/sign/k", {"input": HI}, expect=400)
    pair.call("POST", f"{m}/verify/ecdsa-p256", {"input": HI, "signature": "garbage"}, expect=400)
    pair.call("POST", f"{m}/verify/ecdsa-p256", {"input": HI}, expect=400)
    ra, rb = pair.call("POST", f"{m}/hmac/h/sha2-512", {"input": HI}, expect=200)
    pair.set("mac", lambda r: r.get("data", "hmac"), ra, rb)
    pair.call("POST", f"{m}/verify/h/sha2-512", {"input": HI, "hmac": "<<mac>>"}, expect=200)
    # Hash, random.
    pair.call("POST", f"{m}/hash", {"input": HI}, expect=200)
    pair.call("POST", f"{m}/hash/sha2-512", {"input": HI, "format": "base64"}, expect=200)
    pair.call("POST", f"{m}/hash", {"input": HI, "algorithm": "x"}, expect=400)
    pair.call("POST", f"{m}/random/16", {"format": "hex"}, expect=200)
    pair.call("POST", f"{m}/random/0", {}, expect=400)
    pair.call("GET", f"{m}/cache-config", expect=200)
    pair.call("POST", f"{m}/cache-config", {"size": 5}, expect=400)
    pair.call("POST", f"{m}/cache-config", {"size": 20}, expect=200)
    pair.call("GET", f"{m}/cache-config", expect=200)
    pair.call("POST", f"{m}/keys/k/config", {"auto_rotate_period": "10m"}, expect=400)
    pair.call("POST", f"{m}/keys/k/config", {"auto_rotate_period": "2h"}, expect=200)
    # Export and backup refusals.
    pair.call("GET", f"{m}/export/encryption-key/upserted", expect=400)
    pair.call("GET", f"{m}/export/bogus/upserted", expect=400)
    pair.call("GET", f"{m}/export/public-key/ecdsa-p256", expect=200)
    pair.call("POST", f"{m}/restore", {}, expect=400)
    pair.call("POST", f"{m}/keys/k/config", {"deletion_allowed": True}, expect=200)
    pair.call("DELETE", f"{m}/keys/k", expect=204)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()


def _data(r, key):
    assert r.status == 200, (r.status, r.body[:300])
    return r.json["data"][key]


def test_key_backups_restore_across_servers(pair):
    """bao → vaultlet and vaultlet → bao: every key type with a backup
    format in common, its ciphertexts, signatures and HMACs."""
    m = "tb" + uuid.uuid4().hex[:8]
    secrets_enable(pair, "transit", m)
    a, b = pair.a, pair.b
    for t in ("aes256-gcm96", "aes128-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "ecdsa-p384",
              "ecdsa-p521", "rsa-2048", "rsa-4096", "hmac"):
        for src, dst in ((b, a), (a, b)):
            name = f"{t}-{src.name}"
            body = {"type": t, "exportable": True, "allow_plaintext_backup": True, "derived": t.startswith(("aes2",))}
            if t == "hmac":
                body["key_size"] = 32
            send = pair._send
            assert send(src, "POST", f"{m}/keys/{name}", body, None, None, None, None).status == 200
            send(src, "POST", f"{m}/keys/{name}/rotate", None, None, None, None, None)
            made = {}
            ctx = {"context": HI} if body["derived"] else {}
            if t.startswith(("aes", "chacha", "rsa")):
                made["ct"] = _data(send(src, "POST", f"{m}/encrypt/{name}", {"plaintext": HI, **ctx}, None, None,
                                        None, None), "ciphertext")
            if t.startswith(("ed", "ecdsa", "rsa")):
                made["sig"] = _data(send(src, "POST", f"{m}/sign/{name}", {"input": HI}, None, None, None, None),
                                    "signature")
            made["mac"] = _data(send(src, "POST", f"{m}/hmac/{name}", {"input": HI}, None, None, None, None), "hmac")
            backup = _data(send(src, "GET", f"{m}/backup/{name}", None, None, None, None, None), "backup")
            r = send(dst, "POST", f"{m}/restore", {"backup": backup}, None, None, None, None)
            assert r.status == 204, (t, src.name, r.body[:300])
            if "ct" in made:
                r = send(dst, "POST", f"{m}/decrypt/{name}", {"ciphertext": made["ct"], **ctx}, None, None, None, None)
                assert _data(r, "plaintext") == HI, (t, src.name)
            if "sig" in made:
                r = send(dst, "POST", f"{m}/verify/{name}", {"input": HI, "signature": made["sig"]}, None, None, None,
                         None)
                assert _data(r, "valid") is True, (t, src.name)
            r = send(dst, "POST", f"{m}/verify/{name}", {"input": HI, "hmac": made["mac"]}, None, None, None, None)
            assert _data(r, "valid") is True, (t, src.name)
            r = send(dst, "GET", f"{m}/keys/{name}", None, None, None, None, None)
            assert _data(r, "latest_version") == 2, (t, src.name)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()


def test_convergent_ciphertexts_are_byte_identical_across_servers(pair):
    """A convergent key restored from the other server's backup encrypts the
    same plaintext and context to the same ciphertext (Vault's convergent
    version 3 nonce), in both directions."""
    m = "tc" + uuid.uuid4().hex[:8]
    secrets_enable(pair, "transit", m)
    a, b = pair.a, pair.b
    send = pair._send
    for t in ("aes256-gcm96", "aes128-gcm96", "chacha20-poly1305"):
        for src, dst in ((b, a), (a, b)):
            name = f"conv-{t}-{src.name}"
            body = {"type": t, "derived": True, "convergent_encryption": True, "exportable": True,
                    "allow_plaintext_backup": True}
            assert send(src, "POST", f"{m}/keys/{name}", body, None, None, None, None).status == 200
            backup = _data(send(src, "GET", f"{m}/backup/{name}", None, None, None, None, None), "backup")
            assert send(dst, "POST", f"{m}/restore", {"backup": backup}, None, None, None, None).status == 204
            item = {"plaintext": HI, "context": HI}
            made = [_data(send(s, "POST", f"{m}/encrypt/{name}", item, None, None, None, None), "ciphertext")
                    for s in (src, dst)]
            assert made[0] == made[1], (t, src.name, made)
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()


def test_derived_ed25519_signs_alike_across_servers(pair):
    """A derived ed25519 key restored from the other server's backup makes
    the same signature and public key for a context (ed25519 is
    deterministic), and each server verifies the other's."""
    m = "td" + uuid.uuid4().hex[:8]
    secrets_enable(pair, "transit", m)
    pair.call("POST", f"{m}/keys/d", {"type": "ed25519", "derived": True}, expect=200)
    pair.call("GET", f"{m}/keys/d", expect=200)
    pair.call("GET", f"{m}/keys/d", query={"context": HI}, expect=200)
    ra, rb = pair.call("POST", f"{m}/sign/d", {"input": HI, "context": HI}, expect=200)
    pair.set("sig", lambda r: r.get("data", "signature"), ra, rb)
    pair.call("POST", f"{m}/verify/d", {"input": HI, "context": HI, "signature": "<<sig>>"}, expect=200)
    pair.call("POST", f"{m}/verify/d", {"input": HI, "context": "eHh4", "signature": "<<sig>>"}, expect=200)
    pair.call("POST", f"{m}/sign/d", {"batch_input": [{"input": HI, "context": HI}]}, expect=200)
    a, b = pair.a, pair.b
    send = pair._send
    for src, dst in ((b, a), (a, b)):
        name = f"d-{src.name}"
        body = {"type": "ed25519", "derived": True, "exportable": True, "allow_plaintext_backup": True}
        assert send(src, "POST", f"{m}/keys/{name}", body, None, None, None, None).status == 200
        backup = _data(send(src, "GET", f"{m}/backup/{name}", None, None, None, None, None), "backup")
        assert send(dst, "POST", f"{m}/restore", {"backup": backup}, None, None, None, None).status == 204
        item = {"input": HI, "context": HI}
        made = [send(s, "POST", f"{m}/sign/{name}", item, None, None, None, None).json["data"] for s in (src, dst)]
        assert made[0]["signature"] == made[1]["signature"], (src.name, made)
        assert made[0]["public_key"] == made[1]["public_key"], (src.name, made)
        r = send(dst, "POST", f"{m}/verify/{name}", {**item, "signature": made[0]["signature"]}, None, None, None,
                 None)
        assert _data(r, "valid") is True, src.name
    pair.call("DELETE", f"sys/mounts/{m}", expect=204)
    pair.check()
