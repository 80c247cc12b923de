"""The web UI's entry points outside /v1 in dev mode, where both servers
serve a UI (https://developer.hashicorp.com/vault/docs/configuration/ui):
`/` and `/ui` redirect to `/ui/` with Go's 307, `/ui/` is an HTML page
under a Content Security Policy, other paths outside /v1 are a JSON 404.
The pages themselves differ (each server has its own UI)."""
import requests


def _get(server, path):
    r = requests.get(server.addr + path, allow_redirects=False, timeout=10)
    return r.status_code, r.headers.get("Location"), r.headers.get("Content-Type"), r.content


def test_root_and_bare_ui_redirect_to_the_ui(servers):
    a, b = servers
    for path in ["/", "/ui"]:
        assert _get(a, path) == _get(b, path), path
        assert _get(a, path)[:2] == (307, "/ui/")


def test_the_ui_page_is_html_under_a_policy(servers):
    for server in servers:
        r = requests.get(server.addr + "/ui/", allow_redirects=False, timeout=10)
        assert (r.status_code, r.headers["Content-Type"]) == (200, "text/html; charset=utf-8"), server.name
        policy = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, server.name


def test_other_paths_outside_v1_are_a_json_404(servers):
    answers = []
    for server in servers:
        r = requests.get(server.addr + "/foo/bar", allow_redirects=False, timeout=10)
        answers.append((r.status_code, r.headers["Content-Type"], r.json()))
    assert answers[0] == answers[1] == (404, "application/json", {"errors": []})
