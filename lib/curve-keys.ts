// CURVE key files for node.ts and client.ts: Z85 text as libzmq writes it (zmq_curve_keypair),
// one key per file or one per line in an allow-list. The only file I/O for keys; parsing and
// validation are pure and report errors a person can act on.
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { keygenUsage, parseKeygenConfig } from "./config.ts";
import { ConfigError } from "./util/errors.ts";
import { z85Decode, z85Encode } from "./util/z85.ts";
import type { CurveCrypto } from "./zmtp/index.ts";

export interface CurveKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A 32-byte key from its 40-character Z85 text, or null. */
export function parseZ85Key(text: string): Uint8Array | null {
  const trimmed = text.trim();
  if (trimmed.length !== 40) return null;
  return z85Decode(trimmed);
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Bun.file(path).text();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`cannot read ${what} ${path}: ${reason}`);
  }
}

/** Reads a secret key file (`<name>.key` from keygen) and derives its public key. */
export async function readSecretKeyFile(
  path: string,
  crypto: CurveCrypto,
  flag: string,
): Promise<CurveKeyPair> {
  const secretKey = parseZ85Key(await readText(path, `${flag} file`));
  if (secretKey === null) {
    throw new ConfigError(`${flag} ${path} does not hold a Z85 key (40 characters); ` +
      "create one with the keygen command");
  }
  return { publicKey: crypto.publicKeyOf(secretKey), secretKey };
}

/** A key given as Z85 text, or the path of a file holding one (`<name>.pub`). */
export async function readPublicKey(textOrPath: string, flag: string): Promise<Uint8Array> {
  const inline = parseZ85Key(textOrPath);
  if (inline !== null) return inline;
  const key = parseZ85Key(await readText(textOrPath, `${flag} file`));
  if (key === null) {
    throw new ConfigError(`${flag} ${textOrPath} is neither a Z85 key (40 characters) nor a ` +
      "file holding one");
  }
  return key;
}

/**
 * An allow-list: one Z85 public key per line; blank lines and lines starting with # are
 * skipped. Returns the keys as Z85 text; throws naming every bad line.
 */
export async function readKeyList(path: string, flag: string): Promise<Set<string>> {
  const text = await readText(path, `${flag} file`);
  const keys = new Set<string>();
  const problems: string[] = [];
  text.split("\n").forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const key = parseZ85Key(trimmed);
    if (key === null) problems.push(`line ${index + 1}`);
    else keys.add(z85Encode(key) as string);
  });
  if (problems.length > 0) {
    throw new ConfigError(`${flag} ${path}: not a Z85 public key at ${problems.join(", ")}`);
  }
  return keys;
}

/** A fresh key pair from the system's random source. */
export function generateKeyPair(crypto: CurveCrypto): CurveKeyPair {
  const secretKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return { publicKey: crypto.publicKeyOf(secretKey), secretKey };
}

/** What keygen prints: the pair as Z85, public first, as libzmq's curve_keygen does. */
export function formatKeyPair(pair: CurveKeyPair): string {
  return `public: ${z85Encode(pair.publicKey)}\nsecret: ${z85Encode(pair.secretKey)}\n`;
}

/**
 * Writes `<base>.key` (secret) and `<base>.pub` (public), each created with mode 0600 and never
 * over an existing file.
 */
export function writeKeyPair(base: string, pair: CurveKeyPair): string[] {
  const written: string[] = [];
  const files = [[`${base}.key`, pair.secretKey], [`${base}.pub`, pair.publicKey]] as const;
  for (const [path, key] of files) {
    let fd: number;
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
      fd = openSync(path, flags, 0o600);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = code === "EEXIST" ? "it already exists" : String(error);
      throw new ConfigError(`cannot write ${path}: ${reason}`);
    }
    try {
      writeSync(fd, `${z85Encode(key)}\n`);
    } finally {
      closeSync(fd);
    }
    written.push(path);
  }
  return written;
}

/**
 * The keygen command of node.ts and client.ts: prints a new pair, or writes it to files and
 * prints only the public key. Returns the exit code (0 ok, 1 usage or file error).
 */
export async function runKeygen(
  program: string,
  argv: readonly string[],
  crypto: CurveCrypto,
  out: { stdout: (text: string) => void; stderr: (text: string) => void },
): Promise<number> {
  const parsed = parseKeygenConfig(argv);
  if (parsed.ok && parsed.help) {
    out.stdout(keygenUsage(program));
    return 0;
  }
  if (!parsed.ok) {
    out.stderr(parsed.errors.map((error) => `error: ${error}\n`).join(""));
    return 1;
  }
  const pair = generateKeyPair(crypto);
  if (parsed.config.out === null) {
    out.stdout(formatKeyPair(pair));
    return 0;
  }
  try {
    const [secretPath, publicPath] = writeKeyPair(parsed.config.out, pair);
    out.stdout(`public: ${z85Encode(pair.publicKey)}\n` +
      `wrote the secret key to ${secretPath} and the public key to ${publicPath}\n`);
    return 0;
  } catch (error) {
    out.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
