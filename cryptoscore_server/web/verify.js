// The browser's own check of a challenge's log head (RFC 9162 and the service's signed tree
// head format, cryptoscore/transparency/log.py): the Ed25519 signature under the challenge's
// log key, and that the head extends the last head this browser verified (a consistency
// proof from GET /log/consistency?from=N). The last verified head is kept in localStorage.

import { api } from "./ui.js";

const STH_DOMAIN = new TextEncoder().encode("cryptoscore-sth-v1\0");
const EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
const bytesToHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function hashChildren(left, right) {
  const joined = new Uint8Array(65);
  joined[0] = 1;
  joined.set(left, 1);
  joined.set(right, 33);
  return sha256(joined);
}

/** The bytes a tree head's signature covers. */
function headMessage(head) {
  const logId = new TextEncoder().encode(head.log_id);
  const out = new Uint8Array(STH_DOMAIN.length + 2 + logId.length + 8 + 32 + 8);
  const view = new DataView(out.buffer);
  let at = 0;
  out.set(STH_DOMAIN, at);
  at += STH_DOMAIN.length;
  view.setUint16(at, logId.length);
  at += 2;
  out.set(logId, at);
  at += logId.length;
  view.setBigUint64(at, BigInt(head.size));
  at += 8;
  out.set(hexToBytes(head.root), at);
  at += 32;
  view.setBigUint64(at, BigInt(head.timestamp_ms));
  return out;
}

/** Whether `head` carries a valid Ed25519 signature by `logKeyHex`. */
export async function signatureValid(head, logKeyHex) {
  const key = await crypto.subtle.importKey("raw", hexToBytes(logKeyHex), { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, hexToBytes(head.signature), headMessage(head));
}

/** RFC 9162 §2.1.4.2: does the tree (newSize, newRoot) extend (oldSize, oldRoot)? */
export async function consistent(oldSize, newSize, oldRootHex, newRootHex, pathHex) {
  if (oldSize > newSize) return false;
  if (oldSize === newSize) return pathHex.length === 0 && oldRootHex === newRootHex;
  if (oldSize === 0) return pathHex.length === 0 && oldRootHex === EMPTY_ROOT;
  if (pathHex.length === 0) return false;
  let path = pathHex.map(hexToBytes);
  const oldRoot = hexToBytes(oldRootHex);
  if ((oldSize & (oldSize - 1)) === 0) path = [oldRoot, ...path];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn & 1) {
    fn >>>= 1;
    sn >>>= 1;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn & 1 || fn === sn) {
      fr = await hashChildren(c, fr);
      sr = await hashChildren(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1 || fn === 0)) {
          fn >>>= 1;
          sn >>>= 1;
        }
      }
    } else {
      sr = await hashChildren(sr, c);
    }
    fn >>>= 1;
    sn >>>= 1;
  }
  return sn === 0 && bytesToHex(fr) === oldRootHex && bytesToHex(sr) === newRootHex;
}

const storageKey = (challengeId) => `cryptoscore:verified-head:${challengeId}`;

/** The last head this browser verified for the challenge, or null. */
export function lastVerified(challengeId) {
  try {
    return JSON.parse(localStorage.getItem(storageKey(challengeId)));
  } catch {
    return null;
  }
}

/**
 * Check the challenge's latest head: signature, then consistency with the last verified one.
 * Returns {ok, head, previous, steps: [{name, ok, detail}]}; a passing head is remembered.
 */
export async function verifyLatestHead(challengeId, logKeyHex) {
  const steps = [];
  if (!(globalThis.crypto && crypto.subtle)) {
    return {
      ok: false,
      unsupported: true,
      steps: [{ name: "browser", ok: false, detail: "this page needs a secure context (HTTPS or localhost) to hash and verify" }],
    };
  }
  const previous = lastVerified(challengeId);
  let head;
  let proof = null;
  if (previous) {
    const body = await api(`/challenges/${encodeURIComponent(challengeId)}/log/consistency?from=${previous.size}`);
    head = body.tree_head;
    proof = body.consistency;
  } else {
    head = await api(`/challenges/${encodeURIComponent(challengeId)}/log/head`);
  }
  let signed = false;
  try {
    signed = await signatureValid(head, logKeyHex);
  } catch (err) {
    steps.push({ name: "signature", ok: false, detail: `this browser cannot verify Ed25519 (${err.message})` });
    return { ok: false, head, previous, steps };
  }
  steps.push({
    name: "signature",
    ok: signed,
    detail: signed ? "signed by the challenge's log key" : "the signature does not verify under the log key",
  });
  if (previous) {
    const ok =
      proof.old_size === previous.size &&
      proof.new_size === head.size &&
      (await consistent(previous.size, head.size, previous.root, head.root, proof.path));
    steps.push({
      name: "consistency",
      ok,
      detail: ok
        ? `extends the head of size ${previous.size} this browser verified before`
        : `does NOT extend the head of size ${previous.size} this browser verified before`,
    });
  } else {
    steps.push({ name: "consistency", ok: true, detail: "first check in this browser: later visits are checked against this head" });
  }
  const ok = steps.every((step) => step.ok);
  if (ok) {
    const record = { size: head.size, root: head.root, timestamp_ms: head.timestamp_ms, verified_at: Date.now() };
    try {
      localStorage.setItem(storageKey(challengeId), JSON.stringify(record));
    } catch {
      // private mode: nothing remembered, the check itself stands
    }
  }
  return { ok, head, previous, steps };
}
