// MemoryStorage meets the Raft storage contract, and bootstraps a new cluster's log.
import { expect, test } from "bun:test";
import {
  MemoryStorage, bootstrapMemoryStorage, decodeConfChange,
} from "../../../lib/raft/index.ts";
import { runRaftStorageContract } from "./raft-storage.contract.ts";

runRaftStorageContract("MemoryStorage", () => new MemoryStorage());

test("bootstrap: one committed add-voter entry per initial voter, in id order", () => {
  const storage = bootstrapMemoryStorage([3, 1, 2]);
  const log = storage.entries(1, storage.lastIndex() + 1);
  expect(log.map((e) => [e.index, e.term, e.type, decodeConfChange(e.data)?.nodeId])).toEqual([
    [1, 1, "conf-change", 1], [2, 1, "conf-change", 2], [3, 1, "conf-change", 3],
  ]);
  expect(storage.initialState().hardState).toEqual({ term: 1, vote: 0, commit: 3 });
});
