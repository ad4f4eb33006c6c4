// Reading a node's HTTP endpoints in tests: JSON and text with a per-request deadline.
import type { NodeHandle } from "./cluster.ts";

const requestTimeoutMs = 2000;

export interface HttpAnswer<T> {
  readonly status: number;
  readonly body: T;
}

export function httpOf(node: NodeHandle): string {
  if (node.http === null) throw new Error(`node ${node.id} serves no HTTP`);
  return node.http;
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<HttpAnswer<T>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(requestTimeoutMs) });
  return { status: response.status, body: (await response.json()) as T };
}

export async function getText(url: string, init: RequestInit = {}): Promise<HttpAnswer<string>> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) });
  return { status: response.status, body: await response.text() };
}
