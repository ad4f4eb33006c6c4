// Runs the ReplicaStorage contract against the in-memory reference store and sqlite, in
// memory and in a file in a temp dir (reopened to check durability).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryReplicaStore } from "../../../lib/store/memory-replica-store.ts";
import { SqliteReplicaStore } from "../../../lib/store/sqlite-replica-store.ts";
import { replicaStoreContract } from "./replica-store.contract.ts";

replicaStoreContract({ name: "memory", open: () => new MemoryReplicaStore() });

replicaStoreContract({ name: "sqlite :memory:", open: () => new SqliteReplicaStore(":memory:") });

let dir = "";
replicaStoreContract({
  name: "sqlite file",
  open: () => {
    dir = mkdtempSync(join(tmpdir(), "warehouse-replica-"));
    return new SqliteReplicaStore(join(dir, "warehouse.sqlite"));
  },
  reopen: (store) => {
    store.close();
    return new SqliteReplicaStore(join(dir, "warehouse.sqlite"));
  },
  cleanup: () => rmSync(dir, { recursive: true, force: true }),
});
