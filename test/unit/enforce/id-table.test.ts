/**
 * IdTable: the decision index's ids, held as bytes. Checked against a Map of strings under
 * random sets and deletes (the backward-shift delete is where an open-addressing table goes
 * wrong), with ids of every kind the admin API or Redis could hand it: UUIDs, empty, long,
 * non-Latin-1, lone surrogates, NUL.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { IdTable } from "../../../src/enforce/id-table.ts";

const anyId = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ minLength: 37, maxLength: 200 }),
  fc.constantFrom("", "\u0000", "\u00ff", "\u0100", "\ud800", "é".repeat(36), "x".repeat(36), "x".repeat(37)),
);

/** Check every id of `model` (id → row) is found, idAt gives it back, and `absent` are not found. */
function agrees(table: IdTable, model: Map<string, number>, absent: string[]): void {
  assert.equal(table.size, model.size);
  for (const [id, row] of model) {
    assert.equal(table.get(id), row, JSON.stringify(id));
    assert.equal(table.idAt(row), id);
  }
  for (const id of absent) if (!model.has(id)) assert.equal(table.get(id), -1, JSON.stringify(id));
}

describe("IdTable", () => {
  it("agrees with a Map under random sets and deletes, rows reused as the index reuses them", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), anyId), { maxLength: 300 }),
        fc.nat({ max: 600 }),
        (ops, reserve) => {
          const table = new IdTable();
          if (reserve > 0) table.reserve(reserve);
          const model = new Map<string, number>();
          const free: number[] = [];
          let high = 0;
          for (const [add, id] of ops) {
            const row = model.get(id);
            if (add && row === undefined) {
              const r = free.pop() ?? high++;
              table.set(id, r);
              model.set(id, r);
            } else if (!add && row !== undefined) {
              table.delete(row);
              model.delete(id);
              free.push(row);
            }
          }
          agrees(
            table,
            model,
            ops.map(([, id]) => id),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps finding every id through heavy churn in a table grown to a million slots' worth", () => {
    const table = new IdTable();
    const model = new Map<string, number>();
    const free: number[] = [];
    let high = 0;
    for (let i = 0; i < 200_000; i++) {
      const id = `d-${i}`;
      const r = free.pop() ?? high++;
      table.set(id, r);
      model.set(id, r);
      // Every other id leaves again, in an order unrelated to their slots.
      if (i % 2 === 1) {
        const gone = `d-${(i * 7919) % (i + 1)}`;
        const row = model.get(gone);
        if (row !== undefined) {
          table.delete(row);
          model.delete(gone);
          free.push(row);
        }
      }
    }
    agrees(table, model, ["d-200000", "d--1", ""]);
  });

  it("compares ids as `<` compares the strings", () => {
    fc.assert(
      fc.property(anyId, anyId, (a, b) => {
        fc.pre(a !== b);
        const table = new IdTable();
        table.set(a, 0);
        table.set(b, 1);
        assert.equal(Math.sign(table.compare(0, 1)), a < b ? -1 : 1);
        assert.equal(Math.sign(table.compare(1, 0)), a < b ? 1 : -1);
      }),
    );
  });

  it("takes a reserve of any number without throwing, and deleting a row without an id is nothing", () => {
    const table = new IdTable();
    for (const n of [-1, 0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 3]) table.reserve(n);
    table.delete(0);
    table.delete(10_000);
    table.set("a", 2);
    assert.equal(table.get("a"), 2);
    assert.equal(table.size, 1);
  });
});
