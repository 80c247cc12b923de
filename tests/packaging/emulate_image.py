#!/usr/bin/env python3
"""Builds the runtime stage of docker/Dockerfile without a container engine.

CI has no docker/podman, so this reads the Dockerfile's last stage and carries
it out in a directory: a busybox root (Debian's static busybox standing in for
the busybox image), then each COPY / RUN / ENV / USER / WORKDIR as written
(RUN through busybox sh inside chroot). It then starts ENTRYPOINT + CMD as the
USER with the ENV, runs the HEALTHCHECK command, and runs `vault` commands the
way `kubectl exec -it vault-0 -- /bin/sh` users do.

Run as root (chroot, chown) inside a private network namespace (the image
listens on 0.0.0.0:8200): tests/packaging/static-binary.sh does both.

Usage: emulate_image.py --binary PATH --busybox PATH --root DIR
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILE = os.path.join(REPO, "docker", "Dockerfile")

failures = []
# Loopback only: never through a proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def instructions(path):
    """(keyword, rest) of every instruction, continuation lines joined."""
    out, cur = [], ""
    for line in open(path, encoding="utf-8"):
        s = line.rstrip("\n")
        if not cur and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if cur and s.lstrip().startswith("#"):
            continue  # comment inside a continued instruction
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        kw, _, rest = cur.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out


def last_stage(instrs):
    start = max(i for i, (kw, _) in enumerate(instrs) if kw == "FROM")
    return instrs[start:]


def parse_env(rest):
    env = {}
    for tok in shlex.split(rest):
        k, _, v = tok.partition("=")
        env[k] = v
    return env


def exec_form(rest):
    return json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]


def base_root(root, busybox):
    """What the busybox image gives: /bin/busybox + applet links, /etc/passwd, /tmp."""
    if os.path.exists(root):
        shutil.rmtree(root)
    for d in ("bin", "etc", "tmp", "root", "home", "var", "proc", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    # The device nodes every container runtime provides.
    for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        os.mknod(os.path.join(root, "dev", name), 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(os.path.join(root, "dev", name), 0o666)
    shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        link = os.path.join(root, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")


def copy_into(root, src, dst, chown=None, chmod=None):
    target = os.path.join(root, dst.lstrip("/"))
    if dst.endswith("/"):
        target = os.path.join(target, os.path.basename(src))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(src, target)
    if chmod:
        os.chmod(target, int(chmod, 8))
    if chown:
        uid, _, gid = chown.partition(":")
        os.chown(target, int(uid), int(gid or uid))


def http_status(url):
    try:
        with OPENER.open(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def wait_status(url, want, secs=30):
    deadline = time.time() + secs
    got = (None, "")
    while time.time() < deadline:
        got = http_status(url)
        if got[0] == want:
            return got
        time.sleep(0.2)
    return got


class Container:
    def __init__(self, root, user, env, workdir):
        self.root, self.user, self.env, self.workdir = root, user, env, workdir

    def argv(self, cmd):
        inner = "cd " + shlex.quote(self.workdir) + ' && exec "$@"'
        return (["chroot", "--userspec=" + self.user, self.root, "/bin/sh", "-c", inner, "sh"]
                + cmd)

    def run(self, cmd, extra_env=None, stdin=None):
        env = dict(self.env, **(extra_env or {}))
        return subprocess.run(self.argv(cmd), env=env, capture_output=True, text=True,
                              input=stdin, timeout=60)

    def start(self, cmd, log, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        return subprocess.Popen(self.argv(cmd), env=env, stdout=log, stderr=subprocess.STDOUT)


def post(path, body, token=None):
    req = urllib.request.Request("http://127.0.0.1:8200/v1/" + path,
                                 data=json.dumps(body).encode(), method="POST")
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with OPENER.open(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def cert_manager_flow(wait=0):
    """What cert-manager does with docker/k8s/40-cert-manager.yaml's Issuer and
    30-cert-manager-approle.yaml's Secret against the bootstrapped server: AppRole
    login with the preset credentials, then sign the istio-ca CSR at the Issuer's path."""
    k8s = os.path.join(REPO, "docker", "k8s")
    issuer = open(os.path.join(k8s, "40-cert-manager.yaml")).read()
    secret = open(os.path.join(k8s, "30-cert-manager-approle.yaml")).read()
    role_id = re.search(r"roleId:\s*(\S+)", issuer).group(1)
    path = re.search(r"\bpath:\s*(pki\S+)", issuer).group(1)
    secret_id = re.search(r"secretId:\s*(\S+)", secret).group(1)
    deadline = time.time() + wait
    while True:
        st, login = post("auth/approle/login", {"role_id": role_id, "secret_id": secret_id})
        if st == 200 or time.time() >= deadline:
            break
        time.sleep(0.3)  # the server's own bootstrap may still be running
    check(st == 200, "AppRole login with the manifests' roleId/secretId: %s %s" % (
        st, "" if st == 200 else str(login)[:200]))
    if st != 200:
        return
    token = login["auth"]["client_token"]
    with tempfile.TemporaryDirectory() as tmp:
        key, csr = os.path.join(tmp, "k.pem"), os.path.join(tmp, "r.csr")
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-subj", "/CN=istiod-ca", "-out", csr], check=True, capture_output=True)
        pem = open(csr).read()
    # cert-manager's body: every value a string, as its Vault client sends it.
    body = {"alt_names": "", "common_name": "istiod-ca", "csr": pem, "exclude_cn_from_sans": "true",
            "ip_sans": "", "ttl": "720h0m0s", "uri_sans": ""}
    st, signed = post(path, body, token)
    ok = st == 200 and "BEGIN CERTIFICATE" in signed.get("data", {}).get("certificate", "")
    check(ok, "the Issuer's token signs the istio-ca CSR at %s: %s %s" % (
        path, st, "" if ok else str(signed)[:300]))


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()



def supports_bootstrap(box):
    r = box.run(["/bin/vaultlet", "server", "-h"])
    return "bootstrap" in (r.stdout + r.stderr)


def run_pod(box, label, manifest_paths):
    """Runs a StatefulSet's container as Kubernetes would in the image root: its
    command/args, env (secretKeyRef resolved from the manifests), configMap volumes
    written where they are mounted, emptyDir/PVC volumes as empty directories,
    runAsUser; then its readiness and liveness probes, and, with the bootstrap file,
    cert-manager's AppRole login and signing with the shipped Issuer and Secret."""
    import yaml  # installed by static-binary.sh

    objs = []
    for path in manifest_paths:
        with open(path) as f:
            objs += [d for d in yaml.safe_load_all(f) if d]
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    sts = [o for o in objs if o["kind"] == "StatefulSet"][0]
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = dict(box.env)
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            sec = by[("Secret", ref["name"])]
            if ref["key"] in sec.get("stringData", {}):
                env[e["name"]] = sec["stringData"][ref["key"]]
            else:
                import base64
                env[e["name"]] = base64.b64decode(sec["data"][ref["key"]]).decode()
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    sc = pod.get("securityContext", {})
    user = "%s:%s" % (sc.get("runAsUser", 0), sc.get("runAsGroup", sc.get("runAsUser", 0)))
    for m in c.get("volumeMounts", []):
        target = os.path.join(box.root, m["mountPath"].lstrip("/"))
        if os.path.isdir(target):
            shutil.rmtree(target)  # the mount hides what the image had there
        os.makedirs(target)
        v = vols.get(m["name"], {})
        if "configMap" in v:
            for key, text in by[("ConfigMap", v["configMap"]["name"])]["data"].items():
                with open(os.path.join(target, key), "w") as f:
                    f.write(text)
        else:  # emptyDir or the PVC: writable by fsGroup
            os.chown(target, sc.get("runAsUser", 0), sc.get("fsGroup", 0))
    argv = c["command"] + c.get("args", [])
    bootstrap_file = None
    for a in argv:
        if a.startswith("-bootstrap="):
            bootstrap_file = a.split("=", 1)[1]
    native = supports_bootstrap(box)
    if bootstrap_file and not native:
        print("      %s: this vaultlet has no -bootstrap yet: the file is run with `sh` after start" % label)
        argv = [a for a in argv if not a.startswith("-bootstrap=")]
    podbox = Container(box.root, user, env, box.workdir)
    log = open(os.path.join(os.path.dirname(box.root), "pod-%s.log" % label.replace("/", "_")), "w")
    server = podbox.start(argv, log)
    try:
        ready = c["readinessProbe"]["httpGet"]["path"]
        live = c["livenessProbe"]["httpGet"]["path"]
        if "-dev" not in argv and not native:
            # What the bootstrap is expected to do on a new durable store.
            wait_status("http://127.0.0.1:8200/v1/sys/health", 501)
            req = urllib.request.Request("http://127.0.0.1:8200/v1/sys/init", data=b"{}", method="PUT")
            with OPENER.open(req, timeout=5) as r:
                podbox.env = dict(env, VAULT_TOKEN=json.loads(r.read())["root_token"])
        st, _ = wait_status("http://127.0.0.1:8200" + ready, 200)
        check(st == 200, "%s: readinessProbe %s -> %s" % (label, ready, st))
        st, _ = http_status("http://127.0.0.1:8200" + live)
        check(st is not None and 200 <= st < 400, "%s: livenessProbe %s -> %s" % (label, live, st))
        if bootstrap_file:
            if not native:
                r = podbox.run(["/bin/sh", "-e", bootstrap_file])
                check(r.returncode == 0, "%s: bootstrap file from the ConfigMap runs: %s" % (
                    label, "" if r.returncode == 0 else (r.stdout + r.stderr)[-300:]))
            cert_manager_flow(wait=30)
        st = podbox.run(["/bin/sh", "-c", "vault status"])
        check(st.returncode == 0, "%s: `vault status` via kubectl exec: exit %d %s" % (
            label, st.returncode, "" if st.returncode == 0 else (st.stdout + st.stderr)[-300:]))
    finally:
        stop(server)
        log.close()
    if "-dev" not in argv:
        # A durable pod restarts: unsealed by itself, bootstrap not run twice.
        server = podbox.start(argv if not native else c["command"] + c.get("args", []),
                              open(os.devnull, "w"))
        try:
            st, _ = wait_status("http://127.0.0.1:8200" + ready, 200)
            check(st == 200, "%s: ready again after a restart (static seal): %s" % (label, st))
            if bootstrap_file:
                cert_manager_flow(wait=30)
        finally:
            stop(server)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--busybox", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--pod", action="append", default=[],
                    help="LABEL=manifest[,manifest…]: also run that StatefulSet's pod")
    args = ap.parse_args()
    root = os.path.abspath(args.root)

    stage = last_stage(instructions(DOCKERFILE))
    check(stage[0][1].startswith("busybox:"), "runtime stage is FROM busybox: " + stage[0][1])
    base_root(root, args.busybox)

    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    user, workdir, entrypoint, cmd, health, exposed = "0:0", "/", [], [], None, []
    for kw, rest in stage[1:]:
        if kw == "COPY":
            toks = shlex.split(rest)
            opts = {t.split("=", 1)[0][2:]: t.split("=", 1)[1] for t in toks if t.startswith("--")}
            src, dst = [t for t in toks if not t.startswith("--")]
            src = args.binary if opts.get("from") == "build" else os.path.join(REPO, src)
            copy_into(root, src, dst, opts.get("chown"), opts.get("chmod"))
        elif kw == "RUN":
            r = subprocess.run(["chroot", root, "/bin/sh", "-c", rest], env=env,
                               capture_output=True, text=True)
            check(r.returncode == 0, "RUN " + rest[:70] + "… " + r.stderr.strip()[-200:])
        elif kw == "ENV":
            env.update(parse_env(rest))
        elif kw == "USER":
            user = rest if ":" in rest else rest + ":" + rest
        elif kw == "WORKDIR":
            workdir = rest
            os.makedirs(os.path.join(root, rest.lstrip("/")), exist_ok=True)
        elif kw == "ENTRYPOINT":
            entrypoint = exec_form(rest)
        elif kw == "CMD":
            cmd = exec_form(rest)
        elif kw == "HEALTHCHECK":
            health = rest.split(" CMD ", 1)[1]
        elif kw == "EXPOSE":
            exposed += rest.split()
        elif kw in ("VOLUME", "ARG", "LABEL", "STOPSIGNAL"):
            pass
        else:
            check(False, "instruction the emulation does not know: " + kw)

    check(os.path.islink(os.path.join(root, "bin", "vault"))
          and os.readlink(os.path.join(root, "bin", "vault")) == "vaultlet",
          "/bin/vault -> vaultlet")
    check(user not in ("0", "0:0", "root"), "non-root USER " + user)
    check(env.get("VAULT_ADDR") == "http://127.0.0.1:8200", "VAULT_ADDR preset")
    check(exposed == ["8200"], "EXPOSE 8200")
    check(health is not None, "HEALTHCHECK present")

    box = Container(root, user, env, workdir)
    who = box.run(["id", "-u"])
    check(who.stdout.strip() == user.split(":")[0], "processes run as uid " + who.stdout.strip())

    logpath = os.path.join(os.path.dirname(root), "image-dev.log")
    failed = False
    with open(logpath, "w") as log:
        # 1. The default command: dev mode on 0.0.0.0:8200.
        t0 = time.time()
        server = box.start(entrypoint + cmd, log)
        try:
            st, body = wait_status("http://127.0.0.1:8200/v1/sys/health", 200)
            check(st == 200, "default CMD serves /v1/sys/health on 0.0.0.0:8200 (%s) in %.2fs"
                  % (st, time.time() - t0))
            if st == 200:
                h = json.loads(body)
                check(h.get("initialized") is True and h.get("sealed") is False,
                      "health: initialized, unsealed")
            hc = box.run(["/bin/sh", "-c", health])
            check(hc.returncode == 0, "HEALTHCHECK command exits 0 %r %s" % (
                health, (hc.stdout + hc.stderr).strip()[-300:]))
            token = os.path.join(root, "home", "vault", ".vault-token")
            check(os.path.exists(token) and open(token).read().strip() == "root",
                  "dev root token written to ~/.vault-token as the non-root user")
            # 2. What the guide does after `kubectl exec -it vault-0 -- /bin/sh`.
            status = box.run(["/bin/sh", "-c", "vault status"])
            sealed = [l for l in status.stdout.splitlines() if l.startswith("Sealed")]
            check(status.returncode == 0 and sealed == ["Sealed          false"],
                  "`vault status` in the image (exit %d): %s" % (
                      status.returncode, (sealed or [status.stdout + status.stderr])[0].strip()[-300:]))
            # The bootstrap file is the guide's Step 2: run it as a shell script
            # with the image's `vault` (what `-bootstrap` does inside the server).
            boot = box.run(["/bin/sh", "-e", "/vault/bootstrap/istio-demo.vault"])
            check(boot.returncode == 0,
                  "config/istio-demo.vault runs as a script of `vault` commands in the image"
                  " (exit %d) %s" % (boot.returncode, "" if boot.returncode == 0
                                       else (boot.stdout + boot.stderr).strip()[-400:]))
            cert_manager_flow()
            down = box.run(["/bin/sh", "-c", "wget -q -O /dev/null http://127.0.0.1:8299/v1/sys/health"])
            check(down.returncode != 0, "HEALTHCHECK-style wget fails when nothing listens")
        finally:
            stop(server)
            failed = server.returncode not in (0, -15, 143)

    check(not failed, "dev server stopped cleanly on SIGTERM (rc %s)" % server.returncode)

    # 3. Durable mode as the image documents it: config/durable.hcl, static seal key
    #    from the environment, data in /vault/data owned by the non-root user.
    key = {"VAULT_STATIC_SEAL_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
    durable_cmd = entrypoint + ["server", "-config", "/vault/config/durable.hcl"]
    with open(os.path.join(os.path.dirname(root), "image-durable.log"), "w") as log:
        server = box.start(durable_cmd, log, key)
        try:
            st, _ = wait_status("http://127.0.0.1:8200/v1/sys/health", 501)
            check(st == 501, "durable: a new store answers 501 (not initialized): %s" % st)
            req = urllib.request.Request("http://127.0.0.1:8200/v1/sys/init", data=b"{}",
                                         method="PUT")
            with OPENER.open(req, timeout=5) as r:
                init = json.loads(r.read())
            check(bool(init.get("root_token")), "durable: PUT sys/init gives a root token")
            st, _ = wait_status("http://127.0.0.1:8200/v1/sys/health", 200)
            check(st == 200, "durable: 200 after init")
        finally:
            stop(server)
        server = box.start(durable_cmd, log, key)
        try:
            st, _ = wait_status("http://127.0.0.1:8200/v1/sys/health", 200)
            check(st == 200, "durable: unsealed by itself after a restart (static seal): %s" % st)
        finally:
            stop(server)
    data = os.path.join(root, "vault", "data")
    check(any(os.scandir(data)), "durable: data written under /vault/data")

    for spec in args.pod:
        label, _, paths = spec.partition("=")
        data = os.path.join(root, "vault", "data")
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        os.chown(data, 1000, 1000)
        run_pod(box, label, paths.split(","))

    print("image emulation: %d checks failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
