// Reads the few fields the UI shows from a PEM certificate: subject common
// name, DNS names, validity, serial and key type (a minimal DER walker).

const OID = {
  "550403": "cn",
  "551d11": "san",
  "2a864886f70d010101": "RSA",
  "2a8648ce3d0201": "EC",
  "2b6570": "Ed25519",
  "2a8648ce3d030107": "P-256",
  "2b81040022": "P-384",
  "2b81040023": "P-521",
};

export function pemToDer(pem) {
  const base64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** The element at `pos`: its tag and where its content starts and ends. */
function element(der, pos) {
  const tag = der[pos];
  let length = der[pos + 1];
  let start = pos + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  return { tag, start, end: start + length };
}

function children(der, parent) {
  const out = [];
  for (let pos = parent.start; pos < parent.end; pos = out[out.length - 1].end) out.push(element(der, pos));
  return out;
}

const hex = (der, el) => Array.from(der.subarray(el.start, el.end), (b) => b.toString(16).padStart(2, "0")).join("");
const text = (der, el) => new TextDecoder().decode(der.subarray(el.start, el.end));

function time(der, el) {
  const s = text(der, el);
  const full = el.tag === 0x17 ? (Number(s.slice(0, 2)) < 50 ? "20" : "19") + s : s;
  return new Date(`${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)}T${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)}Z`);
}

function commonName(der, name) {
  for (const set of children(der, name)) {
    for (const pair of children(der, set)) {
      const [oid, value] = children(der, pair);
      if (OID[hex(der, oid)] === "cn") return text(der, value);
    }
  }
  return "";
}

function keyType(der, spki) {
  const [algorithm, bits] = children(der, spki);
  const [oid, params] = children(der, algorithm);
  const kind = OID[hex(der, oid)] ?? "unknown";
  if (kind === "EC") return `EC ${OID[hex(der, params)] ?? ""}`.trim();
  if (kind === "RSA") {
    const key = element(der, bits.start + 1);
    const modulus = children(der, key)[0];
    const size = modulus.end - modulus.start - (der[modulus.start] === 0 ? 1 : 0);
    return `RSA ${size * 8}`;
  }
  return kind;
}

function dnsNames(der, extensions) {
  for (const extension of children(der, children(der, extensions)[0])) {
    const parts = children(der, extension);
    if (OID[hex(der, parts[0])] !== "san") continue;
    const value = element(der, parts[parts.length - 1].start);
    return children(der, value).filter((n) => n.tag === 0x82).map((n) => text(der, n));
  }
  return [];
}

export function parseCertificate(pem) {
  const der = pemToDer(pem);
  const tbs = children(der, element(der, 0))[0];
  let fields = children(der, tbs);
  if (fields[0].tag === 0xa0) fields = fields.slice(1);
  const [serial, , issuer, validity, subject, spki, ...rest] = fields;
  const [notBefore, notAfter] = children(der, validity).map((t) => time(der, t));
  const extensions = rest.find((el) => el.tag === 0xa3);
  return {
    serial: hex(der, serial).replace(/^00(?=..)/, "").match(/../g).join(":"),
    subject: commonName(der, subject),
    issuer: commonName(der, issuer),
    notBefore,
    notAfter,
    keyType: keyType(der, spki),
    dnsNames: extensions ? dnsNames(der, extensions) : [],
  };
}
