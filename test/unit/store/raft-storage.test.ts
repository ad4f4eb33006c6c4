// Runs the RaftStorage contract against the sqlite store, in memory and in a file in a temp dir
// (reopened to check durability).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteRaftStorage } from "../../../lib/store/raft-log-store.ts";
import { raftStorageContract } from "./raft-storage.contract.ts";

raftStorageContract({ name: "sqlite :memory:", open: () => new SqliteRaftStorage(":memory:") });

let dir = "";
raftStorageContract({
  name: "sqlite file",
  open: () => {
    dir = mkdtempSync(join(tmpdir(), "warehouse-raft-"));
    return new SqliteRaftStorage(join(dir, "warehouse.sqlite"));
  },
  reopen: (store) => {
    store.close?.();
    return new SqliteRaftStorage(join(dir, "warehouse.sqlite"));
  },
  cleanup: () => rmSync(dir, { recursive: true, force: true }),
});
