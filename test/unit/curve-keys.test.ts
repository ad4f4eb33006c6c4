// Key files for the CURVE flags: keygen's files (mode 0600, never overwritten), allow-lists with
// comments and bad lines, and keys given inline or as files.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateKeyPair,
  readKeyList,
  readPublicKey,
  readSecretKeyFile,
  runKeygen,
  writeKeyPair,
} from "../../lib/curve-keys.ts";
import { z85Encode } from "../../lib/util/z85.ts";
import { loadCurveCrypto } from "../../lib/zmtp/index.ts";

const crypto = await loadCurveCrypto();
const dir = mkdtempSync(join(tmpdir(), "warehouse-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("key files", () => {
  test("writeKeyPair: two 0600 files in Z85, never over an existing one", async () => {
    const pair = generateKeyPair(crypto);
    const base = join(dir, "node");
    expect(writeKeyPair(base, pair)).toEqual([`${base}.key`, `${base}.pub`]);
    expect(statSync(`${base}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${base}.pub`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${base}.pub`, "utf8")).toBe(`${z85Encode(pair.publicKey)}\n`);
    const read = await readSecretKeyFile(`${base}.key`, crypto, "--curve-secret-key-file");
    expect(read).toEqual(pair);
    expect(() => writeKeyPair(base, generateKeyPair(crypto))).toThrow(
      `cannot write ${base}.key: it already exists`,
    );
    // The refused overwrite left the first secret key in place.
    expect((await readSecretKeyFile(`${base}.key`, crypto, "--x")).secretKey).toEqual(
      pair.secretKey,
    );
  });

  test("readKeyList: comments and blank lines skipped, bad lines named", async () => {
    const a = z85Encode(generateKeyPair(crypto).publicKey) as string;
    const b = z85Encode(generateKeyPair(crypto).publicKey) as string;
    const good = join(dir, "good.txt");
    writeFileSync(good, `# clients\n${a}\n\n  ${b}  \n`);
    expect(await readKeyList(good, "--client-keys")).toEqual(new Set([a, b]));
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, `${a}\nnot a key\n${b}x\n`);
    await expect(readKeyList(bad, "--client-keys")).rejects.toThrow(
      `--client-keys ${bad}: not a Z85 public key at line 2, line 3`,
    );
    await expect(readKeyList(join(dir, "missing.txt"), "--client-keys")).rejects.toThrow(
      "cannot read --client-keys file",
    );
  });

  test("readPublicKey: Z85 text inline or a file holding it", async () => {
    const pair = generateKeyPair(crypto);
    const text = z85Encode(pair.publicKey) as string;
    expect(await readPublicKey(text, "--server-key")).toEqual(pair.publicKey);
    const file = join(dir, "server.pub");
    writeFileSync(file, `${text}\n`);
    expect(await readPublicKey(file, "--server-key")).toEqual(pair.publicKey);
    writeFileSync(file, "garbage\n");
    await expect(readPublicKey(file, "--server-key")).rejects.toThrow("is neither a Z85 key");
  });

  test("runKeygen prints a matching pair, or only the public key when writing files", async () => {
    let out = "";
    let err = "";
    const streams = {
      stdout: (t: string) => void (out += t),
      stderr: (t: string) => void (err += t),
    };
    expect(await runKeygen("client.ts", [], crypto, streams)).toBe(0);
    const [publicLine = "", secretLine = ""] = out.trim().split("\n");
    const secret = (await readPublicKey(secretLine.replace("secret: ", ""), "x")) as Uint8Array;
    expect(publicLine).toBe(`public: ${z85Encode(crypto.publicKeyOf(secret))}`);
    out = "";
    expect(await runKeygen("client.ts", ["--out", join(dir, "c")], crypto, streams)).toBe(0);
    expect(out).not.toContain("secret:");
    expect(await runKeygen("client.ts", ["--out", join(dir, "c")], crypto, streams)).toBe(1);
    expect(err).toContain("it already exists");
  });
});
