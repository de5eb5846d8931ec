// The store conformance suite: every case a QueueStore must pass, chosen by what the store
// declares it can do. This repository runs it on its four stores; a store written elsewhere
// runs it the same way (see README, "Writing a store").
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { auditCases } from "./audit.ts";
import { basicCases } from "./basics.ts";
import { durabilityCases } from "./durability.ts";
import { queueCases } from "./queue-cases.ts";
import { processCases } from "./processes.ts";
import { sharingCases } from "./sharing.ts";
import { stepCases } from "./steps.ts";
import { workflowCases } from "./workflows.ts";
import type { StoreUnderTest } from "./target.ts";
import { TRANSITIONS } from "./transition-rows.ts";
import { runRow } from "./transition-table.ts";

/** Registers the suite for one store with `node:test` (runs under Node, Deno and Bun). */
export function storeConformance(target: StoreUnderTest): void {
  describe(`QueueStore conformance: ${target.name}`, () => {
    before(() => target.setup?.());
    after(() => target.teardown?.());

    test("declares its capabilities, and gives what the suite needs to prove them", async () => {
      const store = await target.create();
      try {
        for (const key of ["sharedAcrossProcesses", "durable", "consistent"] as const) {
          assert.equal(typeof store.capabilities[key], "boolean", key);
        }
        if (store.capabilities.sharedAcrossProcesses) {
          assert.ok(target.sibling, "sharedAcrossProcesses: give `sibling`");
        }
        if (store.capabilities.durable) assert.ok(target.reopen, "durable: give `reopen`");
      } finally {
        await store.close();
      }
    });

    basicCases(target);
    for (const row of TRANSITIONS) {
      test(`transition: ${row.name}`, async () => {
        const store = await target.create();
        try {
          await runRow(store, row);
        } finally {
          await store.close();
        }
      });
    }
    queueCases(target);
    stepCases(target);
    workflowCases(target);
    auditCases(target);
    if (target.sibling) sharingCases(target);
    if (target.reopen) durabilityCases(target);
    if (target.processes) processCases(target);
  });
}
