// Every action goes through the /v1 API with the session's token, exactly
// as any other client: the server's ACL decides, the UI only shows it.

const TOKEN_KEY = "vaultlet.token";

/** The token lives in this tab's session storage only (never a cookie, never a URL). */
export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  login: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  logout: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refused or failed API call, with Vault's `errors` texts. */
export class ApiError extends Error {
  constructor(status, errors) {
    // Vault wraps some errors as "1 error occurred:\n\t* permission denied\n\n".
    const text = errors.filter(Boolean).map((e) => e.replace(/^\d+ errors? occurred:\s*\*\s*/, "").trim()).join("; ");
    super(status === 403 ? `Permission denied (403)${text ? ": " + text : ""}` : `${status}: ${text || "request failed"}`);
    this.status = status;
  }
}

async function call(method, path, body) {
  const headers = {};
  const token = session.token();
  if (token) headers["X-Vault-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) throw new ApiError(response.status, json?.errors ?? [text]);
  return json;
}

/** Path segments are escaped one by one, so names cannot reach other paths. */
export const path = (...parts) => parts.map((part) => part.split("/").map(encodeURIComponent).join("/")).join("/");

export const read = (p) => call("GET", p);
export const write = (p, body = {}) => call("POST", p, body);
export const remove = (p) => call("DELETE", p);

/** LIST; an empty listing is Vault's 404, which is no error here. */
export async function list(p, query = {}) {
  const params = new URLSearchParams({ list: "true", ...query });
  try {
    return await call("GET", `${p}?${params}`);
  } catch (err) {
    if (err.status === 404) return { data: { keys: [] } };
    throw err;
  }
}

/** At most this many requests of one listing are in flight at a time. */
const READERS = 8;

/**
 * `fn` of each item, in order, with at most READERS calls running at once:
 * a long listing never floods the server (nor the browser's queue). The
 * first failure stops handing out items and is thrown.
 */
export async function mapLimited(items, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]);
      } catch (err) {
        next = items.length;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READERS, items.length) }, worker));
  return results;
}
