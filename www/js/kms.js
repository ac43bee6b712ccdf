// Key management against the dev KMS (AWS KMS JSON 1.1 API) with plain fetch. The SDK in the
// worker only does the data-key operations; listing keys and the key lifecycle live here.

export class KmsError extends Error {
  constructor(type, message, status) {
    super(message || type);
    this.name = "KmsError";
    this.type = type; // e.g. "DisabledException", or "NetworkError" when the KMS can't be reached
    this.status = status;
  }
}

export class Kms {
  constructor(endpoint) {
    this.endpoint = endpoint.replace(/\/+$/, "");
  }

  async call(op, body = {}) {
    let res;
    try {
      res = await fetch(`${this.endpoint}/`, {
        method: "POST",
        headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `TrentService.${op}` },
        body: JSON.stringify(body),
        credentials: "omit",
      });
    } catch (e) {
      throw new KmsError("NetworkError", `The KMS at ${this.endpoint} can't be reached.`, 0);
    }
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const type = (json.__type || res.headers.get("x-amzn-ErrorType") || `HTTP ${res.status}`).split("#").pop();
      throw new KmsError(type, json.message || json.Message || type, res.status);
    }
    return json;
  }

  async audit(limit = 50) {
    let res;
    try {
      res = await fetch(`${this.endpoint}/audit?limit=${limit}`, { credentials: "omit" });
    } catch {
      throw new KmsError("NetworkError", `The KMS at ${this.endpoint} can't be reached.`, 0);
    }
    if (!res.ok) throw new KmsError(`HTTP ${res.status}`, `GET /audit answered ${res.status}`, res.status);
    return res.json();
  }

  /** Every key with its aliases, metadata and rotation state. */
  async keys() {
    const [keys, aliases] = await Promise.all([this.listAll("ListKeys", "Keys"), this.listAll("ListAliases", "Aliases")]);
    const byKey = new Map();
    for (const a of aliases) if (a.TargetKeyId) (byKey.get(a.TargetKeyId) || byKey.set(a.TargetKeyId, []).get(a.TargetKeyId)).push(a.AliasName);
    const out = await Promise.all(
      keys.map(async (k) => {
        const { KeyMetadata: m } = await this.call("DescribeKey", { KeyId: k.KeyArn });
        let rotation = { enabled: false, periodDays: null, next: null, count: 0, last: null };
        if (m.KeyState !== "PendingDeletion") {
          const [st, rot] = await Promise.all([
            this.call("GetKeyRotationStatus", { KeyId: k.KeyArn }).catch(() => null),
            this.call("ListKeyRotations", { KeyId: k.KeyArn }).catch(() => null),
          ]);
          const list = rot?.Rotations || [];
          rotation = {
            enabled: !!st?.KeyRotationEnabled,
            periodDays: st?.RotationPeriodInDays ?? null,
            next: st?.NextRotationDate ?? null,
            count: list.length,
            last: list.length ? Math.max(...list.map((r) => r.RotationDate || 0)) : null,
          };
        }
        return { arn: m.Arn, id: m.KeyId, aliases: (byKey.get(m.KeyId) || []).sort(), meta: m, rotation };
      }),
    );
    out.sort((a, b) => (a.meta.CreationDate || 0) - (b.meta.CreationDate || 0));
    return out;
  }

  async listAll(op, field) {
    const all = [];
    let marker;
    do {
      const r = await this.call(op, marker ? { Marker: marker, Limit: 100 } : { Limit: 100 });
      all.push(...(r[field] || []));
      marker = r.Truncated ? r.NextMarker : undefined;
    } while (marker);
    return all;
  }

  async createKey(alias, description) {
    const { KeyMetadata: m } = await this.call("CreateKey", {
      Description: description || "created in the kms-envelope demo",
      KeyUsage: "ENCRYPT_DECRYPT",
      KeySpec: "SYMMETRIC_DEFAULT",
    });
    if (alias) await this.call("CreateAlias", { AliasName: `alias/${alias}`, TargetKeyId: m.KeyId });
    return m;
  }
}
